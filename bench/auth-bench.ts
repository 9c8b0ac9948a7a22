// npm run bench: figures for the claims the README makes.
//  1. login timing: unknown email vs wrong password (account enumeration by timing);
//  2. event-loop delay while logins hash (bcrypt runs in worker threads);
//  3. the whole flow, register → requestOtp → verifyOtp, sequentially;
//  4. `me` under load (16 at a time), and what its session check costs: the live session and the
//     user in one query, against a read of the user alone;
//  5. what the Prometheus metrics cost `me`: the same service with metrics on, interleaved with it.
// Real service, real PostgreSQL (embedded, or DATABASE_URL), the emulator. BCRYPT_COST defaults to 12.
import 'reflect-metadata';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startApp } from '../src/app';
import { loadConfig, RATE_LIMIT_POLICIES } from '../src/config/config';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { createLogger } from '../src/logging/logger';
import { PrometheusMetrics } from '../src/metrics/metrics';
import { AuthSession } from '../src/sessions/session.entity';
import { generateEphemeralKey } from '../src/tokens/signing-key';
import { User } from '../src/users/user.entity';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const ME_REQUESTS = Number(process.env.BENCH_ME_REQUESTS ?? 4000);

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-bench-'));
  await chmod(dataDir, 0o755);
  const logger = createLogger({ level: 'silent' });
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres({ dataDir, logger });
  const unlimited = Object.fromEntries(Object.values(RATE_LIMIT_POLICIES).map(({ variable }) => [variable, '1000000/60']));
  const config = loadConfig({
    ...process.env,
    ...unlimited,
    DATABASE_URL: process.env.DATABASE_URL ?? embedded!.url,
    PORT: '0',
    HOST: '127.0.0.1',
    OTP_SENDS_PER_PHONE_PER_HOUR: '1000',
    OTP_SENDS_PER_PHONE_PER_DAY: '10000',
    OTP_SENDS_PER_COUNTRY_PER_HOUR: '1000000',
    RATE_LIMIT_LOGIN_PER_EMAIL_CEILING: '1000000/60',
  });
  const signingKey = await generateEphemeralKey();
  const app = await startApp(config, { logger, signingKey });
  const gql = async (query: string, variables: object) => {
    const response = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: any; errors?: Array<{ extensions: { code: string } }> };
  };
  const LOGIN = 'mutation($i: LoginInput!) { login(input: $i) { pendingToken } }';
  console.log(`bcrypt cost ${config.bcryptCost}, ${SAMPLES} samples per series, database ${embedded ? 'embedded' : 'DATABASE_URL'}`);

  try {
    const stamp = Date.now();
    const email = `bench.${stamp}@example.com`;
    const register = 'mutation($i: RegisterInput!) { register(input: $i) { pendingToken } }';
    await gql(register, { i: { email, password: 'correct horse battery', phoneNumber: '+447400900001' } });

    // 1. Timing of the two INVALID_CREDENTIALS cases, interleaved so drift hits both alike.
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      for (const [series, input] of [
        [unknown, { email: `nobody.${stamp}.${i}@example.com`, password: 'correct horse battery' }],
        [wrong, { email, password: `wrong password ${i}` }],
      ] as const) {
        const started = performance.now();
        const res = await gql(LOGIN, { i: input });
        (series as number[]).push(performance.now() - started);
        if (res.errors?.[0]?.extensions.code !== 'INVALID_CREDENTIALS') throw new Error('unexpected answer');
      }
    }
    const u = stats(unknown);
    const w = stats(wrong);
    console.log('\n1. login answering INVALID_CREDENTIALS (ms)');
    console.log(`   unknown email : median ${u.median.toFixed(1)}  mean ${u.mean.toFixed(1)}  p90 ${u.p90.toFixed(1)}`);
    console.log(`   wrong password: median ${w.median.toFixed(1)}  mean ${w.mean.toFixed(1)}  p90 ${w.p90.toFixed(1)}`);
    const gap = w.median - u.median;
    console.log(`   gap of medians: ${gap.toFixed(1)} ms (${((100 * gap) / w.median).toFixed(1)} % of a login)`);

    // 2. Event-loop delay while 20 logins hash at once.
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const burstStarted = performance.now();
    await Promise.all(Array.from({ length: 20 }, (_, i) => gql(LOGIN, { i: { email, password: `burst ${i}` } })));
    const burstMs = performance.now() - burstStarted;
    histogram.disable();
    console.log('\n2. 20 concurrent logins');
    console.log(
      `   all answered in ${burstMs.toFixed(0)} ms; event-loop delay max ${(histogram.max / 1e6).toFixed(1)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms`,
    );

    // 3. The whole flow.
    const flows: number[] = [];
    for (let i = 0; i < Math.min(SAMPLES, 10); i++) {
      const started = performance.now();
      const phoneNumber = `+447400${900100 + i}`;
      const reg = await gql(register, { i: { email: `flow.${stamp}.${i}@example.com`, password: 'correct horse battery', phoneNumber } });
      const pendingToken = reg.data.register.pendingToken;
      await gql('mutation($i: RequestOtpInput!) { requestOtp(input: $i) { channel } }', { i: { pendingToken } });
      const code = app.emulator!.lastCodeFor(phoneNumber);
      const done = await gql('mutation($i: VerifyOtpInput!) { verifyOtp(input: $i) { accessToken } }', { i: { pendingToken, code } });
      if (!done.data?.verifyOtp) throw new Error('flow failed');
      flows.push(performance.now() - started);
    }
    const f = stats(flows);
    console.log('\n3. register → requestOtp → verifyOtp (one bcrypt hash; emulator on loopback)');
    console.log(`   median ${f.median.toFixed(1)} ms, p90 ${f.p90.toFixed(1)} ms over ${flows.length} flows`);
    // 4. `me`: every bearer request checks its session is live; the user comes in the same query.
    const phoneNumber = '+447400900999';
    const reg = await gql(register, { i: { email: `me.${stamp}@example.com`, password: 'correct horse battery', phoneNumber } });
    const pendingToken = reg.data.register.pendingToken;
    await gql('mutation($i: RequestOtpInput!) { requestOtp(input: $i) { channel } }', { i: { pendingToken } });
    const verified = await gql('mutation($i: VerifyOtpInput!) { verifyOtp(input: $i) { accessToken } }', {
      i: { pendingToken, code: app.emulator!.lastCodeFor(phoneNumber) },
    });
    const signedIn = verified.data.verifyOtp.accessToken as string;
    const load = await meLoad(app.url, signedIn, 16, ME_REQUESTS);
    console.log(`\n4. me, ${ME_REQUESTS} requests, 16 concurrent (load generator in the same process)`);
    console.log(`   ${load.perSecond.toFixed(0)} requests/s; latency median ${load.median.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms`);
    const queries = await compareReads(app, signedIn);
    console.log('   one query per me, timed alone (median of 2000 each, interleaved):');
    console.log(`   session + user (what me runs) ${queries.sessionAndUser.toFixed(0)} µs; user alone ${queries.userAlone.toFixed(0)} µs`);

    // 5. A second service on the same database and key, metrics on (no bench run has them on above).
    const token = 'bench-metrics-token-0123456789abcdef';
    const measured = await startApp({ ...config, metrics: { token, host: '127.0.0.1' } }, { logger, signingKey });
    try {
      const cost = await metricsCost(app.url, measured.url, signedIn);
      const scraped = await (await fetch(new URL('/metrics', measured.url), { headers: { authorization: `Bearer ${token}` } })).text();
      const recorded = /^graphql_requests_total\{operation="me",code="OK"\} (\d+)$/m.exec(scraped)?.[1];
      console.log(`\n5. me with metrics off and on, ${cost.rounds} interleaved rounds of ${cost.perRound} requests, 16 concurrent`);
      console.log(`   off ${cost.off.toFixed(0)} requests/s, on ${cost.on.toFixed(0)} requests/s (medians): cost ${cost.percent.toFixed(1)} %`);
      console.log(`   the metrics counted ${recorded} me requests; one scrape is ${Buffer.byteLength(scraped)} bytes`);
      console.log(`   recording alone (counter + histogram, as per request): ${recordingMicros().toFixed(2)} µs per request`);
    } finally {
      await measured.stop();
    }
    console.log(`\nmemory: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (service and bench in one process)`);
  } finally {
    await app.stop();
    await embedded?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** `concurrency` clients asking `me` back to back until `total` answers have come. */
async function meLoad(url: string, accessToken: string, concurrency: number, total: number) {
  const body = JSON.stringify({ query: '{ me { id email } }' });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` };
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1;
        const t0 = performance.now();
        const res = (await (await fetch(url, { method: 'POST', headers, body })).json()) as { data?: { me?: unknown } };
        if (!res.data?.me) throw new Error('me failed');
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const s = stats(latencies);
  return { perSecond: (total * 1000) / (performance.now() - started), median: s.median, p99: at(latencies, 0.99) };
}

/** What the plugin's one call per request costs by itself, free of the load's noise. */
function recordingMicros(): number {
  const metrics = new PrometheusMetrics();
  const calls = 200_000;
  const started = performance.now();
  for (let i = 0; i < calls; i++) metrics.graphqlRequest('me', 'OK', 0.002);
  return ((performance.now() - started) * 1000) / calls;
}

/** Rounds of `me` load against the service without metrics and the one with, alternately, so drift hits both. */
async function metricsCost(offUrl: string, onUrl: string, accessToken: string) {
  const rounds = 6;
  const perRound = Math.max(500, Math.round(ME_REQUESTS / 2));
  const off: number[] = [];
  const on: number[] = [];
  // A warm-up round each: JIT, connection pools, the prepared plans.
  await meLoad(offUrl, accessToken, 16, perRound);
  await meLoad(onUrl, accessToken, 16, perRound);
  for (let round = 0; round < rounds; round++) {
    const [first, second] = round % 2 === 0 ? [offUrl, onUrl] : [onUrl, offUrl];
    const a = (await meLoad(first, accessToken, 16, perRound)).perSecond;
    const b = (await meLoad(second, accessToken, 16, perRound)).perSecond;
    off.push(first === offUrl ? a : b);
    on.push(first === offUrl ? b : a);
  }
  const medianOff = stats(off).median;
  const medianOn = stats(on).median;
  return { rounds, perRound, off: medianOff, on: medianOn, percent: (100 * (medianOff - medianOn)) / medianOff };
}

/** The query `me` runs (live session joined with its user) against a plain read of the user. */
async function compareReads(app: Awaited<ReturnType<typeof startApp>>, accessToken: string) {
  const { sub, sid } = decodeJwt(accessToken) as { sub: string; sid: string };
  const sessionAndUser: number[] = [];
  const userAlone: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const em = app.orm.em.fork();
    let t0 = performance.now();
    if (!(await em.getRepository(AuthSession).findUserOfLiveSession(sid, sub, new Date()))) throw new Error('no live session');
    sessionAndUser.push(performance.now() - t0);
    t0 = performance.now();
    if (!(await em.fork().findOne(User, sub))) throw new Error('no user');
    userAlone.push(performance.now() - t0);
  }
  return { sessionAndUser: stats(sessionAndUser).median * 1000, userAlone: stats(userAlone).median * 1000 };
}

function at(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p90: at(0.9), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
