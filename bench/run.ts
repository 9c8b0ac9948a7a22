/**
 * `npm run bench`: the service measured side by side with two comparators kept in bench/, in one
 * run, printed as one table with ratios and targets (issue 11). BENCH_QUICK=1 shrinks every count
 * (about a minute); the full run takes about ten minutes on a 2-core machine. BENCH_ONLY=metrics,me
 * runs only those steps (see STEPS below); BENCH_PROFILE_DIR=dir has every child write a V8 CPU
 * profile there when it stops (open it in Chrome DevTools, or read its top frames), sampled every
 * BENCH_PROFILE_INTERVAL µs (V8's default: 1000).
 *
 * What runs, each in a process of its own (bench/lib/processes.ts), so that CPU time and heap are
 * each process's own:
 *  - the service (bench/service-process.ts: `npm start`'s start-up, configured by environment);
 *  - the floor (bench/floor.ts): bare node:http doing only what `me` must do;
 *  - the Express peer (bench/express-peer.ts): the flow as a tutorial would write it;
 *  - the Sinch emulator (bench/emulator-process.ts: what src/sinch/emulator/main.ts runs), without
 *    callbacks; the service and the Express peer both talk to it over HTTP. A second service with
 *    an emulator that calls back is started for one informative row.
 * PostgreSQL: the server DATABASE_URL names (the bench creates and drops its own databases
 * bench_service, bench_express, bench_service_cb, bench_service_sat, bench_service_scale0 and
 * bench_service_scale1 there), else an embedded one.
 * The load generator is this process (node:http, keep-alive), the same for every target.
 *
 * The service's configuration (serviceEnv below) is what `npm start` reads, with:
 *  - NODE_ENV=production: no IDE, no introspection, no stack traces: production's settings only
 *    add protection; the emulator's credentials, a generated Ed25519 JWT_PRIVATE_KEY and the
 *    database are given as production requires;
 *  - every rate limit and abuse cap lifted (RATE_LIMIT_*, OTP_SENDS_*, the pumping guard's
 *    thresholds): the counters are still kept, only their ceilings are out of the way, so their
 *    cost is measured;
 *  - LOG_LEVEL=info (the default) with stdout to a file: the request log is part of the cost;
 *  - CLEANUP_INTERVAL_SECONDS=86400, so that the janitor does not run during the bench;
 *  - BCRYPT_COST=4 for the latency and CPU rows (hashing would drown everything else), 12 (the
 *    default) for the saturation rows.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { RATE_LIMIT_POLICIES } from '../src/config/config';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { Client } from 'pg';
import { type FlowClient, GraphQLClient, PASSWORD, RestClient, signIn, Users } from './lib/clients';
import { BenchDatabase, type DbCounters } from './lib/db';
import { closedLoop, HttpTarget, median, quantile, sleep } from './lib/http';
import { Child } from './lib/processes';
import { fmt, Report, seconds } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';

/** Every count and duration, full and quick. */
const SETTINGS = {
  /** `me`: rounds of this many seconds per target, interleaved, after a warm-up. */
  meRounds: QUICK ? 1 : 3,
  meRoundMs: QUICK ? 1500 : 4000,
  meWarmupMs: QUICK ? 500 : 2000,
  meConcurrency: 16,
  /** login / requestOtp / verifyOtp, one at a time, service and Express interleaved. */
  latencySamples: QUICK ? 20 : 150,
  /** requestOtp with an emulator that calls back, against one that does not. */
  callbackSamples: QUICK ? 10 : 60,
  /** Whole sign-ins per target for CPU time and PostgreSQL transactions. */
  signIns: QUICK ? 30 : 300,
  /** login / verifyOtp samples on a service with 1k users and one with 1M, interleaved. */
  scaleSamples: QUICK ? 20 : 100,
  scaleUsers: QUICK ? 50_000 : 1_000_000,
  /** Cost 12: raw bcryptjs compares, login saturation, `me` under it: seconds each. */
  saturationMs: QUICK ? 3000 : 10_000,
  /** Logins in flight to keep the service's hashing pool busy, per core. */
  saturationPerCore: 4,
  /** Interleaved login pairs (unknown email, wrong password) at cost 12. */
  enumerationSamples: QUICK ? 6 : 30,
  /** Sign-ins before each heap reading (BENCH_HEAP_SIGNINS=10000,50000), and the step's time budget. */
  heapSignIns: (process.env.BENCH_HEAP_SIGNINS ?? (QUICK ? '300,1500' : '10000,50000')).split(',').map(Number) as [number, number],
  heapBudgetMs: Number(process.env.BENCH_HEAP_SECONDS ?? (QUICK ? 45 : 240)) * 1000,
  heapConcurrency: 16,
  /** `me` with metrics on and off: rounds of this many seconds each, both services loaded at once. */
  metricsRounds: QUICK ? 2 : 20,
  metricsRoundMs: QUICK ? 1000 : 4000,
};

/** Metrics are on with a METRICS_TOKEN (the scrape must send it), off without one. */
const METRICS_TOKEN = 'bench-metrics-token-0123456789abcdef';
const METRICS = {
  on: `METRICS_TOKEN=${METRICS_TOKEN}`,
  off: 'METRICS_TOKEN=',
  path: '/metrics',
};

const EXPECTED = QUICK ? 'about 1 minute' : 'about 10 minutes';

/**
 * BENCH_ONLY=metrics,me runs only those steps (for work on one figure; the table then has only
 * their rows): me, latency, callbacks, cost (CPU and transactions per sign-in, and the cost-12
 * saturation rows), heap, metrics, scale.
 */
const STEPS = ['me', 'latency', 'callbacks', 'cost', 'heap', 'metrics', 'scale'] as const;
const execFileAsync = promisify(execFile);

const ONLY = process.env.BENCH_ONLY?.split(',').map((step) => step.trim());
const unknownStep = ONLY?.find((step) => !(STEPS as readonly string[]).includes(step));
if (unknownStep !== undefined) throw new Error(`BENCH_ONLY: no step "${unknownStep}" (steps: ${STEPS.join(', ')})`);
const runs = (step: (typeof STEPS)[number]) => ONLY === undefined || ONLY.includes(step);

interface Running {
  db: BenchDatabase;
  logDir: string;
  emulator: Child;
  service: Child;
  floor: Child;
  express: Child;
  /** The service with an emulator that sends callbacks (its own database), for one row. */
  callbackService: Child;
  callbackEmulator: Child;
  children: Child[];
  serviceClient: GraphQLClient;
  floorClient: GraphQLClient;
  expressClient: RestClient;
  callbackClient: GraphQLClient;
  /** Users of each target: distinct emails and phone numbers. */
  serviceUsers: Users;
  expressUsers: Users;
  sinch: { applicationKey: string; applicationSecret: string };
  jwtPrivateKey: string;
  run: string;
}

async function main(): Promise<void> {
  const report = new Report();
  report.progress(`npm run bench${QUICK ? ' (BENCH_QUICK=1)' : ''}: expected duration ${EXPECTED} on a 2-core machine`);
  if (ONLY) report.progress(`BENCH_ONLY: steps ${ONLY.join(', ')} only`);
  report.progress(
    `${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)} (other work on the machine skews every figure); ` +
      `me ${SETTINGS.meRounds}×${SETTINGS.meRoundMs / 1000} s per target, ${SETTINGS.latencySamples} latency samples, ` +
      `${SETTINGS.signIns} sign-ins per target, heap at ${SETTINGS.heapSignIns.join('/')} sign-ins (budget ${SETTINGS.heapBudgetMs / 1000} s), ` +
      `saturation ${SETTINGS.saturationMs / 1000} s, ${SETTINGS.scaleUsers.toLocaleString('en')} users`,
  );
  const logDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-bench-logs-'));
  const children: Child[] = [];
  let db: BenchDatabase | undefined;
  const stopAll = async () => {
    await Promise.all(children.map((child) => child.stop()));
    await db?.stop();
  };
  const emergency = () => {
    for (const child of children) child.kill();
    // An embedded PostgreSQL must not outlive the bench: a few seconds to stop it, no more.
    const exit = () => process.exit(130);
    setTimeout(exit, 5000).unref();
    void (db?.stop() ?? Promise.resolve()).finally(exit);
  };
  process.once('SIGINT', emergency);
  process.once('SIGTERM', emergency);

  try {
    db = await report.step('PostgreSQL', async () => BenchDatabase.start());
    const running = await report.step('starting the emulator, the service, the floor and the Express peer', () => startAll(db!, logDir, children));
    report.progress(`${db.description}; logs in ${logDir}`);

    if (runs('me')) await report.step('`me`: floor, service, Express', () => meComparison(running, report));
    if (runs('latency'))
      await report.step('login / requestOtp / verifyOtp latency at bcrypt cost 4: service and Express', () => latencyComparison(running, report));
    if (runs('callbacks')) await report.step('requestOtp with an emulator that calls back', () => callbackComparison(running, report));
    if (runs('cost')) await costAndSaturation(running, report);
    if (runs('heap')) await report.step(`heap after GC, ${SETTINGS.heapSignIns.join(' → ')} sign-ins`, () => heapGrowth(running, report));
    if (runs('metrics')) await report.step('`me` with metrics on and off: CPU per request', () => metricsComparison(running, report));
    if (runs('scale'))
      await report.step(`login / verifyOtp at 1,000 and at ${SETTINGS.scaleUsers.toLocaleString('en')} users, interleaved`, () =>
        scaleComparison(running, report),
      );
  } catch (error) {
    report.progress(`bench failed; child logs are kept in ${logDir}`);
    await stopAll().catch(() => {});
    throw error;
  }
  await stopAll();
  if (process.env.BENCH_KEEP_LOGS === '1') report.progress(`child logs kept in ${logDir}`);
  else await rm(logDir, { recursive: true, force: true });
  console.log('');
  console.log(report.table());
  console.log('');
  console.log(`Load average at the end: ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores.`);
  console.log(`Total: ${report.elapsed}${QUICK ? ' (BENCH_QUICK=1: small counts, figures are rough)' : ''}.`);
}

/** CPU and transactions per whole sign-in, with the cost-12 saturation rows run while the statistics settle. */
async function costAndSaturation(running: Running, report: Report): Promise<void> {
  for (const name of ['bench_service', 'bench_express']) await running.db.autovacuum(name, false);
  let quietSince = Date.now();
  const before = await report.step('waiting for PostgreSQL statistics to settle (11 s after the last request)', async () => ({
    service: await running.db.settledCounters('bench_service', quietSince),
    express: await running.db.settledCounters('bench_express', quietSince),
  }));
  const signIns = await report.step(`${SETTINGS.signIns} whole sign-ins per target: CPU time`, () => signInCost(running, report));
  quietSince = Date.now();
  // While the statistics of those settle: the cost-12 rows, on a service and database of their own.
  await report.step('bcrypt cost 12: raw compares/s, login saturation, `me` under it, enumeration timing', () => saturation(running, report));
  const after = await report.step('waiting for PostgreSQL statistics to settle', async () => ({
    service: await running.db.settledCounters('bench_service', quietSince),
    express: await running.db.settledCounters('bench_express', quietSince),
  }));
  for (const name of ['bench_service', 'bench_express']) await running.db.autovacuum(name, true);
  transactionRows(report, before, after, signIns);
}

async function startAll(db: BenchDatabase, logDir: string, children: Child[]): Promise<Running> {
  const sinch = { applicationKey: randomUUID(), applicationSecret: randomBytes(16).toString('base64') };
  const jwtPrivateKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const serviceDb = await db.recreate('bench_service');
  const expressDb = await db.recreate('bench_express');
  const callbackDb = await db.recreate('bench_service_cb');
  const start = async (name: string, entry: string, env: Record<string, string>) => {
    const child = await Child.start(name, entry, env, logDir);
    children.push(child);
    return child;
  };
  const sinchEnv = { SINCH_APPLICATION_KEY: sinch.applicationKey, SINCH_APPLICATION_SECRET: sinch.applicationSecret };
  // Ports chosen first, so that everything but the floor (it reads the service's JWKS) and the
  // emulator that calls back (it needs the service's address) starts at once.
  const emulatorPort = await freePort();
  const callbackEmulatorPort = await freePort();
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  const [emulator, service, express, callbackService] = await Promise.all([
    start('emulator', 'bench/emulator-process.ts', { ...sinchEnv, LOG_LEVEL: 'info', SINCH_EMULATOR_PORT: String(emulatorPort) }),
    start('service', 'bench/service-process.ts', serviceEnv({ databaseUrl: serviceDb, sinchUrl: emulatorUrl, sinch, jwtPrivateKey, bcryptCost: 4 })),
    start('express', 'bench/express-peer.ts', { DATABASE_URL: expressDb, BCRYPT_COST: '4', SINCH_BASE_URL: emulatorUrl, ...sinchEnv }),
    start(
      'service-callbacks',
      'bench/service-process.ts',
      serviceEnv({ databaseUrl: callbackDb, sinchUrl: `http://127.0.0.1:${callbackEmulatorPort}`, sinch, jwtPrivateKey, bcryptCost: 4 }),
    ),
  ]);
  const [callbackEmulator, floor] = await Promise.all([
    start('emulator-callbacks', 'bench/emulator-process.ts', {
      ...sinchEnv,
      LOG_LEVEL: 'info',
      SINCH_EMULATOR_PORT: String(callbackEmulatorPort),
      SINCH_EMULATOR_CALLBACK_URL: `${new URL(callbackService.url).origin}/sinch/callbacks`,
    }),
    start('floor', 'bench/floor.ts', {
      DATABASE_URL: serviceDb,
      SERVICE_JWKS_URL: `${new URL(service.url).origin}/.well-known/jwks.json`,
      JWT_ISSUER: 'sinch-2fa',
      JWT_AUDIENCE: 'sinch-2fa-clients',
      PG_POOL_MAX: '10',
    }),
  ]);
  return {
    db,
    logDir,
    emulator,
    service,
    floor,
    express,
    callbackService,
    callbackEmulator,
    children,
    serviceClient: new GraphQLClient('service', service.url),
    floorClient: new GraphQLClient('floor', floor.url),
    expressClient: new RestClient('Express', express.url),
    callbackClient: new GraphQLClient('service (callbacks)', callbackService.url),
    serviceUsers: new Users(`s${Date.now().toString(36)}`, 0),
    expressUsers: new Users(`x${Date.now().toString(36)}`, 500_000),
    sinch,
    jwtPrivateKey,
    run: Date.now().toString(36),
  };
}

/** The service's environment: `npm start`'s variables (see the header). */
function serviceEnv(options: {
  databaseUrl: string;
  sinchUrl: string;
  sinch: { applicationKey: string; applicationSecret: string };
  jwtPrivateKey: string;
  bcryptCost: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  const lifted = Object.fromEntries(Object.values(RATE_LIMIT_POLICIES).map(({ variable }) => [variable, '1000000/60']));
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_URL: options.databaseUrl,
    SINCH_BASE_URL: options.sinchUrl,
    SINCH_APPLICATION_KEY: options.sinch.applicationKey,
    SINCH_APPLICATION_SECRET: options.sinch.applicationSecret,
    JWT_PRIVATE_KEY: options.jwtPrivateKey,
    BCRYPT_COST: String(options.bcryptCost),
    ...lifted,
    RATE_LIMIT_LOGIN_PER_EMAIL_CEILING: '1000000/60',
    OTP_SENDS_PER_PHONE_PER_HOUR: '1000',
    OTP_SENDS_PER_PHONE_PER_DAY: '10000',
    OTP_SENDS_PER_COUNTRY_PER_HOUR: '1000000',
    OTP_WRONG_CODES_PER_USER_PER_HOUR: '1000',
    OTP_PUMPING_MIN_UNCONVERTED_PER_COUNTRY: '1000000',
    OTP_PUMPING_MIN_UNCONVERTED_PER_PREFIX: '1000000',
    CLEANUP_INTERVAL_SECONDS: '86400',
    ...options.extra,
  };
}

/**
 * A port for a child to listen on later, from below the ephemeral range: a port the kernel hands
 * out for listen(0) or for an outgoing connection (the children's own, to PostgreSQL say) could be
 * taken again before the child binds it.
 */
async function freePort(): Promise<number> {
  const ephemeralLow = Math.max(ephemeralPortsFrom(), 20_000);
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000));
    if (await canListen(port)) return port;
  }
}

/** Where Linux starts handing out ephemeral ports (32768 by default, and elsewhere). */
function ephemeralPortsFrom(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `me` at 16 concurrent: the floor, the service and the Express peer in turn, `meRounds` rounds
 * of `meRoundMs` each, after a warm-up; requests/s over all rounds, and CPU per request in the
 * target's own process.
 */
async function meComparison(running: Running, report: Report): Promise<void> {
  const serviceToken = await signIn(running.serviceClient, running.emulator, running.serviceUsers.take());
  const expressToken = await signIn(running.expressClient, running.emulator, running.expressUsers.take());
  const targets = [
    { name: 'floor', child: running.floor, request: running.floorClient.meRequest(serviceToken) },
    { name: 'service', child: running.service, request: running.serviceClient.meRequest(serviceToken) },
    { name: 'Express', child: running.express, request: running.expressClient.meRequest(expressToken) },
  ].map((target) => ({ ...target, count: 0, ms: 0, cpuMs: 0 }));
  for (const target of targets) {
    await closedLoop({ concurrency: SETTINGS.meConcurrency, durationMs: SETTINGS.meWarmupMs, task: target.request });
  }
  for (let round = 0; round < SETTINGS.meRounds; round++) {
    for (const target of targets) {
      const cpu0 = await target.child.cpuMs();
      const load = await closedLoop({ concurrency: SETTINGS.meConcurrency, durationMs: SETTINGS.meRoundMs, task: target.request });
      target.cpuMs += (await target.child.cpuMs()) - cpu0;
      target.count += load.count;
      target.ms += load.elapsedMs;
    }
  }
  const [floor, service, express] = targets.map((t) => ({ rps: (t.count * 1000) / t.ms, cpu: t.cpuMs / t.count, count: t.count }));
  report.progress(
    `me requests/s: floor ${fmt(floor.rps)}, service ${fmt(service.rps)}, Express ${fmt(express.rps)} (${service.count} service requests over ${seconds(targets[1].ms)})`,
  );
  report.add({
    rank: 10,
    measure: '`me` requests/s, 16 concurrent',
    service: fmt(service.rps),
    comparator: `floor ${fmt(floor.rps)}`,
    ratio: service.rps / floor.rps,
    target: '≥ 0.5',
    ok: service.rps / floor.rps >= 0.5,
  });
  report.add({
    rank: 11,
    measure: '`me` requests/s, 16 concurrent',
    service: fmt(service.rps),
    comparator: `Express ${fmt(express.rps)}`,
    ratio: service.rps / express.rps,
    target: '≥ 1.0',
    ok: service.rps / express.rps >= 1,
  });
  report.add({
    rank: 20,
    measure: 'CPU ms per `me` (target process)',
    service: fmt(service.cpu),
    comparator: `floor ${fmt(floor.cpu)} / Express ${fmt(express.cpu)}`,
    ratio: service.cpu / floor.cpu,
    target: '(informative; ratio to floor)',
  });
}

/**
 * Cost 12 on a service of its own (its own database): bcryptjs compares/s with one worker thread
 * per core and nothing else running, the service's logins/s with enough logins in flight to keep
 * its hashing pool busy, the p99 of `me` (one at a time, paced) while the logins saturate the CPU,
 * and the login timing of an unknown email against a wrong password (enumeration).
 */
async function saturation(running: Running, report: Report): Promise<void> {
  const databaseUrl = await running.db.recreate('bench_service_sat');
  const child = await Child.start(
    'service-cost12',
    'bench/service-process.ts',
    serviceEnv({ databaseUrl, sinchUrl: running.emulator.url, sinch: running.sinch, jwtPrivateKey: running.jwtPrivateKey, bcryptCost: 12 }),
    running.logDir,
  );
  running.children.push(child);
  const client = new GraphQLClient('service (cost 12)', child.url);
  try {
    const users = new Users(`t${running.run}`, 900_000);
    const user = users.take();
    const accessToken = await signIn(client, running.emulator, user);
    const me = client.meRequest(accessToken);
    const cores = availableParallelism();
    const ms = SETTINGS.saturationMs;

    const raw = await rawCompares(bcrypt.hashSync(PASSWORD, 12), cores, ms);
    report.progress(`raw bcryptjs, ${cores} worker threads: ${fmt(raw)} compares/s`);

    const login = () => client.login(user.email, PASSWORD).then(() => {});
    const concurrency = SETTINGS.saturationPerCore * cores;
    await closedLoop({ concurrency, durationMs: 1500, task: login }); // the pool's threads started
    const logins = await closedLoop({ concurrency, durationMs: ms, task: login });
    report.progress(`service: ${fmt(logins.perSecond)} logins/s with ${concurrency} in flight`);
    report.add({
      rank: 70,
      measure: 'login/s at saturation ÷ raw bcryptjs compares/s (cost 12, all cores)',
      service: fmt(logins.perSecond),
      comparator: `raw ${fmt(raw)}`,
      ratio: logins.perSecond / raw,
      target: '≥ 0.9',
      ok: logins.perSecond / raw >= 0.9,
    });

    // `me` one at a time with a pause between (about 50/s), while the logins keep the CPU busy.
    const stop = performance.now() + ms;
    const mes: number[] = [];
    const [, saturated] = await Promise.all([
      (async () => {
        while (performance.now() < stop) {
          const t0 = performance.now();
          await me();
          mes.push(performance.now() - t0);
          await sleep(20);
        }
      })(),
      closedLoop({ concurrency, durationMs: ms, task: login }),
    ]);
    const p99 = quantile(mes, 0.99);
    report.add({
      rank: 80,
      measure: '`me` p99 while login saturates the CPU (ms)',
      service: fmt(p99),
      comparator: `p50 ${fmt(median(mes))}, ${mes.length} requests`,
      target: '≤ 25 ms',
      ok: p99 <= 25,
    });
    report.progress(`me: p50 ${fmt(median(mes))} ms, p99 ${fmt(p99)} ms over ${mes.length} requests; meanwhile ${fmt(saturated.perSecond)} logins/s`);

    // Enumeration: an unknown email and a wrong password, interleaved so drift hits both alike.
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < SETTINGS.enumerationSamples; i++) {
      for (const [into, email, password] of [
        [unknown, `nobody.${running.run}.${i}@example.com`, PASSWORD],
        [wrong, user.email, `wrong password ${i}`],
      ] as const) {
        const t0 = performance.now();
        if (!(await client.loginRefused(email, password))) throw new Error('login was not refused with INVALID_CREDENTIALS');
        into.push(performance.now() - t0);
      }
    }
    const gap = median(wrong) - median(unknown);
    report.add({
      rank: 120,
      measure: 'login p50, wrong password − unknown email, cost 12 (ms)',
      service: fmt(gap),
      comparator: `wrong ${fmt(median(wrong))} / unknown ${fmt(median(unknown))}`,
      ratio: gap / median(wrong),
      target: '(informative: enumeration by timing)',
    });
  } finally {
    client.close();
    await child.stop();
    await running.db.drop('bench_service_sat');
  }
}

/** bcryptjs compares/s at cost 12: one worker thread per core, back to back for `ms`. */
async function rawCompares(hash: string, threads: number, ms: number): Promise<number> {
  const results = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<{ count: number; ms: number }>((resolve, reject) => {
          const worker = new Worker(path.join(__dirname, 'lib', 'bcrypt-worker.js'), { workerData: { password: PASSWORD, hash, ms } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  return results.reduce((sum, { count, ms: took }) => sum + (took > 0 ? (count * 1000) / took : 0), 0);
}

/**
 * Heap after GC of the service after a first batch of whole sign-ins and after more: a leak grows
 * with sign-ins, a cache fills and stops. 16 at a time; bounded by a time budget, after which the
 * step reports the counts it reached.
 */
async function heapGrowth(running: Running, report: Report): Promise<void> {
  const [first, second] = SETTINGS.heapSignIns;
  const budgetEnd = performance.now() + SETTINGS.heapBudgetMs;
  let done = 0;
  const runUntil = async (target: number, until: number) => {
    const load = await closedLoop({
      concurrency: SETTINGS.heapConcurrency,
      count: target - done,
      durationMs: until - performance.now(),
      task: async () => void (await signIn(running.serviceClient, running.emulator, running.serviceUsers.take())),
    });
    done += load.count;
    return load;
  };
  // The first reading may take at most two fifths of the budget: on this machine about 10k
  // sign-ins, well past the 2,000 pending tokens the service's memo keeps, so that the memo's fill
  // is not read as growth (a slower machine reaches fewer: see the row's label).
  const a = await runUntil(first, performance.now() + (SETTINGS.heapBudgetMs * 2) / 5);
  const firstCount = done;
  const heapA = await running.service.heapAfterGc();
  report.progress(`${firstCount} sign-ins (${fmt(a.perSecond)}/s): heap ${fmt(heapA / 2 ** 20)} MiB after GC`);
  await runUntil(second, budgetEnd);
  const heapB = await running.service.heapAfterGc();
  report.progress(`${done} sign-ins: heap ${fmt(heapB / 2 ** 20)} MiB after GC`);
  const label = (n: number) => (n >= 1000 ? `${Math.round(n / 100) / 10}k` : String(n));
  report.add({
    rank: 60,
    measure: `heap after GC, ${label(firstCount)} → ${label(done)} sign-ins (MiB)`,
    service: `${fmt(heapA / 2 ** 20)} → ${fmt(heapB / 2 ** 20)}`,
    comparator: done < second ? `(budget: ${label(done)} of ${label(second)})` : '',
    ratio: heapB / heapA,
    target: '≤ 1.1',
    ok: heapB / heapA <= 1.1,
  });
}

/** `me` on two fresh services on the same database, metrics on and off, rounds interleaved: CPU per request, and requests/s. */
async function metricsComparison(running: Running, report: Report): Promise<void> {
  const parse = (spec: string) => Object.fromEntries(spec.split(',').map((pair) => pair.split('=', 2) as [string, string]));
  const start = (name: string, extra: Record<string, string>) =>
    Child.start(
      name,
      'bench/service-process.ts',
      serviceEnv({
        databaseUrl: running.db.url('bench_service'),
        sinchUrl: running.emulator.url,
        sinch: running.sinch,
        jwtPrivateKey: running.jwtPrivateKey,
        bcryptCost: 4,
        extra,
      }),
      running.logDir,
    ).then((child) => {
      running.children.push(child);
      return child;
    });
  const on = await start('service-metrics-on', parse(METRICS.on));
  const probe = async (child: Child) =>
    (await new HttpTarget(new URL(child.url).origin).send('GET', METRICS.path, undefined, { authorization: `Bearer ${METRICS_TOKEN}` })).status;
  const onStatus = await probe(on);
  if (onStatus !== 200) {
    await on.stop();
    report.progress(`with ${METRICS.on}, GET ${METRICS.path} answered ${onStatus}: no metrics to switch, row not measured`);
    report.add({
      rank: 100,
      measure: '`me` per CPU second, metrics on ÷ off',
      service: 'n/a',
      comparator: `no metrics (${METRICS.on}: GET ${METRICS.path} → ${onStatus})`,
      target: '≥ 0.95',
    });
    return;
  }
  const off = await start('service-metrics-off', parse(METRICS.off));
  let cpuOffMs = Number.NaN;
  try {
    if ((await probe(off)) === 200) throw new Error(`with ${METRICS.off}, GET ${METRICS.path} still answers 200`);
    const token = await signIn(running.serviceClient, running.emulator, running.serviceUsers.take());
    const targets = [on, off].map((child) => ({
      child,
      client: new GraphQLClient(child.name, child.url),
      rounds: [] as Array<{ count: number; perSecond: number; cpuMs: number }>,
    }));
    for (const target of targets) {
      await closedLoop({ concurrency: SETTINGS.meConcurrency, durationMs: SETTINGS.meWarmupMs, task: target.client.meRequest(token) });
    }
    // Both services at once, half the clients each: whatever the machine does during a round
    // (other work, a slower core, the hypervisor) it does to both alike. Served one after the
    // other, a round's drift fell on one service only: rounds read 0.74 to 1.52.
    for (let round = 0; round < SETTINGS.metricsRounds; round++) {
      const cpu0 = await Promise.all(targets.map((t) => t.child.cpuMs()));
      const loads = await Promise.all(
        targets.map((target) =>
          closedLoop({ concurrency: SETTINGS.meConcurrency / 2, durationMs: SETTINGS.metricsRoundMs, task: target.client.meRequest(token) }),
        ),
      );
      const cpu1 = await Promise.all(targets.map((t) => t.child.cpuMs()));
      for (const [i, target] of targets.entries()) {
        target.rounds.push({ count: loads[i].count, perSecond: loads[i].perSecond, cpuMs: cpu1[i] - cpu0[i] });
      }
    }
    for (const target of targets) target.client.close();
    // Off ÷ on: `me` served per CPU second with metrics, as a share of without. CPU time per request
    // is the cost the target is about, and leaves out how the cores were shared with the load
    // generator and PostgreSQL (requests/s are printed too). Over the whole step, not a median of
    // rounds: a collection of the heap is part of the cost and falls in one round or another.
    // Two services of the same configuration read 0.99 this way (rounds 0.84 to 1.15).
    const perRequest = (rounds: Array<{ count: number; cpuMs: number }>) =>
      rounds.reduce((sum, r) => sum + r.cpuMs, 0) / rounds.reduce((sum, r) => sum + r.count, 0);
    const [onRounds, offRounds] = targets.map((t) => t.rounds);
    const cpuRatios = onRounds.map((on, i) => offRounds[i].cpuMs / offRounds[i].count / (on.cpuMs / on.count));
    const rpsRatios = onRounds.map((on, i) => on.perSecond / offRounds[i].perSecond);
    const [cpuOn, cpuOff] = [perRequest(onRounds), perRequest(offRounds)];
    cpuOffMs = cpuOff;
    const ratio = cpuOff / cpuOn;
    report.progress(`CPU per \`me\` per round, off ÷ on: ${cpuRatios.map((r) => r.toFixed(3)).join(', ')}; median ${median(cpuRatios).toFixed(3)}`);
    report.progress(
      `requests/s per round, on ÷ off (informative): ${rpsRatios.map((r) => r.toFixed(2)).join(', ')}; median ${median(rpsRatios).toFixed(2)}`,
    );
    report.add({
      rank: 100,
      measure: '`me` per CPU second, metrics on ÷ off (CPU per request off ÷ on, whole step)',
      service: `${fmt(cpuOn)} ms`,
      comparator: `off ${fmt(cpuOff)} ms`,
      ratio,
      target: '≥ 0.95',
      ok: ratio >= 0.95,
    });
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
  // The recording alone, in one process (bench/metrics-recording.ts): a few µs, where pairs of
  // whole services differ by a few per cent from one pair to the next.
  const { stdout } = await execFileAsync(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, 'metrics-recording.ts')], {
    cwd: path.join(__dirname, '..'),
  });
  const { offUs, recordingUs } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { offUs: number; recordingUs: number };
  report.progress(stdout.trim().split('\n')[0]);
  report.add({
    rank: 101,
    measure: 'metrics recording per GraphQL request, in one process (µs of CPU)',
    service: fmt(recordingUs),
    comparator: `Apollo request ${fmt(offUs)} µs; ${((recordingUs / 1000 / cpuOffMs) * 100).toFixed(1)} % of \`me\` (${fmt(cpuOffMs)} ms)`,
    target: '(informative: the recording alone)',
  });
}

/** Registers `count` users of `client`, a few at a time. */
async function registerUsers(client: FlowClient, users: Users, count: number) {
  const made: Array<{ email: string; phoneNumber: string }> = [];
  await closedLoop({
    concurrency: 4,
    count,
    task: async () => {
      const user = users.take();
      await client.register(user.email, PASSWORD, user.phoneNumber);
      made.push(user);
    },
  });
  return made;
}

/** One login → requestOtp → verifyOtp, each timed alone (the code is fetched from the emulator between, untimed). */
async function timedFlow(client: FlowClient, emulator: Child, user: { email: string; phoneNumber: string }, into: FlowTimes): Promise<void> {
  let t0 = performance.now();
  const pending = await client.login(user.email, PASSWORD);
  into.login.push(performance.now() - t0);
  t0 = performance.now();
  await client.requestOtp(pending);
  into.requestOtp.push(performance.now() - t0);
  const code = await emulator.ask<string>('code', { phoneNumber: user.phoneNumber });
  t0 = performance.now();
  await client.verifyOtp(pending, code);
  into.verifyOtp.push(performance.now() - t0);
}

interface FlowTimes {
  login: number[];
  requestOtp: number[];
  verifyOtp: number[];
}

const flowTimes = (): FlowTimes => ({ login: [], requestOtp: [], verifyOtp: [] });

/**
 * login, requestOtp and verifyOtp p50, one request at a time, the service and the Express peer
 * interleaved sample by sample (so that drift in the machine's load hits both alike), each sample
 * on a user of its own registered beforehand, after a few warm-up flows.
 */
async function latencyComparison(running: Running, report: Report): Promise<void> {
  const n = SETTINGS.latencySamples;
  const warm = 5;
  const [serviceUsers, expressUsers] = await Promise.all([
    registerUsers(running.serviceClient, running.serviceUsers, n + warm),
    registerUsers(running.expressClient, running.expressUsers, n + warm),
  ]);
  const service = flowTimes();
  const express = flowTimes();
  for (let i = 0; i < n + warm; i++) {
    const keep = i >= warm;
    await timedFlow(running.serviceClient, running.emulator, serviceUsers[i], keep ? service : flowTimes());
    await timedFlow(running.expressClient, running.emulator, expressUsers[i], keep ? express : flowTimes());
  }
  for (const step of ['login', 'requestOtp', 'verifyOtp'] as const) {
    const s = median(service[step]);
    const x = median(express[step]);
    report.add({
      rank: 30,
      measure: `${step} p50, bcrypt cost 4 (ms)`,
      service: fmt(s),
      comparator: `Express ${fmt(x)}`,
      ratio: s / x,
      target: '≤ 1.5',
      ok: s / x <= 1.5,
    });
  }
  report.progress(`${n} samples each`);
}

/** requestOtp p50 against the emulator that calls back (approval callback before it answers) and the one that does not. */
async function callbackComparison(running: Running, report: Report): Promise<void> {
  const n = SETTINGS.callbackSamples;
  const warm = 3;
  const callbackUsers = new Users(`c${running.run}`, 0);
  const [plainUsers, withUsers] = await Promise.all([
    registerUsers(running.serviceClient, running.serviceUsers, n + warm),
    registerUsers(running.callbackClient, callbackUsers, n + warm),
  ]);
  const plain: number[] = [];
  const withCallbacks: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    for (const [client, user, into] of [
      [running.serviceClient, plainUsers[i], plain],
      [running.callbackClient, withUsers[i], withCallbacks],
    ] as const) {
      const pending = await client.login(user.email, PASSWORD);
      const t0 = performance.now();
      await client.requestOtp(pending);
      if (i >= warm) into.push(performance.now() - t0);
    }
  }
  const a = median(withCallbacks);
  const b = median(plain);
  report.add({
    rank: 110,
    measure: 'requestOtp p50 with emulator callbacks (ms)',
    service: fmt(a),
    comparator: `without ${fmt(b)}`,
    ratio: a / b,
    target: '(informative: callback round trip)',
  });
  // Not needed any more: fewer processes and connections for what follows.
  running.callbackClient.close();
  await Promise.all([running.callbackService.stop(), running.callbackEmulator.stop()]);
  await running.db.drop('bench_service_cb');
}

/**
 * Whole sign-ins (register → requestOtp → verifyOtp, a new user each), 4 at a time: the service's
 * and then the Express peer's, each with the emulator's CPU time added (each is alone on the
 * emulator while it runs).
 */
async function signInCost(running: Running, report: Report): Promise<{ service: number; express: number }> {
  const measure = async (client: FlowClient, child: Child, users: Users) => {
    const cpu0 = (await child.cpuMs()) + (await running.emulator.cpuMs());
    const load = await closedLoop({
      concurrency: 4,
      count: SETTINGS.signIns,
      task: async () => void (await signIn(client, running.emulator, users.take())),
    });
    const cpuMs = ((await child.cpuMs()) + (await running.emulator.cpuMs()) - cpu0) / load.count;
    report.progress(`${client.name}: ${load.count} sign-ins in ${seconds(load.elapsedMs)}, ${fmt(cpuMs)} ms CPU each (emulator included)`);
    return { count: load.count, cpuMs };
  };
  const service = await measure(running.serviceClient, running.service, running.serviceUsers);
  const express = await measure(running.expressClient, running.express, running.expressUsers);
  report.add({
    rank: 40,
    measure: 'CPU ms per whole sign-in, emulator included',
    service: fmt(service.cpuMs),
    comparator: `Express ${fmt(express.cpuMs)}`,
    ratio: service.cpuMs / express.cpuMs,
    target: '≤ 2.0',
    ok: service.cpuMs / express.cpuMs <= 2,
  });
  return { service: service.count, express: express.count };
}

function transactionRows(
  report: Report,
  before: { service: DbCounters; express: DbCounters },
  after: { service: DbCounters; express: DbCounters },
  counts: { service: number; express: number },
): void {
  const per = (key: 'service' | 'express', field: keyof DbCounters) => (after[key][field] - before[key][field]) / counts[key];
  // A connection the pool opened meanwhile (the pools close idle ones while the statistics settle)
  // counts one start-up transaction: not the sign-ins' work.
  const work = (key: 'service' | 'express') => per(key, 'xacts') - per(key, 'sessions');
  const s = work('service');
  const x = work('express');
  const detail = (key: 'service' | 'express') =>
    `${fmt(per(key, 'inserted'))} rows inserted, ${fmt(per(key, 'updated'))} updated, ${fmt(per(key, 'deleted'))} deleted, ` +
    `${after[key].sessions - before[key].sessions} connections opened (not counted)`;
  report.add({
    rank: 50,
    measure: 'PostgreSQL transactions per whole sign-in',
    service: fmt(s),
    comparator: `Express ${fmt(x)}`,
    ratio: s / x,
    target: '≤ 10 (service)',
    ok: s <= 10,
  });
  report.progress(`per sign-in: service ${fmt(s)} transactions, ${detail('service')}; Express ${fmt(x)} transactions, ${detail('express')}`);
}

/** Users written straight into the service's table: canonical emails, one precomputed hash of PASSWORD. */
/** `count` users inserted by SQL (`sql.<n>@example.com`, phone proven) into database `name`, then vacuumed and checkpointed. */
async function insertUsers(running: Running, name: string, count: number, report?: Report): Promise<void> {
  const client = new Client({ connectionString: running.db.url(name) });
  await client.connect();
  try {
    const hash = bcrypt.hashSync(PASSWORD, 4);
    for (let from = 0; from < count; ) {
      const to = Math.min(count, from + 200_000);
      await client.query(
        `insert into app_user (id, email, email_canonical, phone_number, password_hash, phone_verified_at, created_at, updated_at)
         select gen_random_uuid(), 'sql.' || g || '@example.com', 'sql.' || g || '@example.com',
                '+447400' || lpad((g % 1000000)::text, 6, '0'), $3, now(), now(), now()
           from generate_series($1::int, $2::int - 1) g`,
        [from, to, hash],
      );
      from = to;
      report?.progress(`${name}: ${from.toLocaleString('en')} users inserted`);
    }
    await client.query('vacuum analyze app_user');
    // The inserts' write-ahead log flushed now, not during the samples that follow.
    await client.query('checkpoint');
  } finally {
    await client.end();
  }
}

/**
 * login and verifyOtp p50 with 1,000 users in the table and with `scaleUsers`: two services of
 * their own, each on its own database, one flow on each in turn (a random user of each), so that
 * the machine's drift hits both samples alike.
 */
async function scaleComparison(running: Running, report: Report): Promise<void> {
  const sizes = [1000, SETTINGS.scaleUsers];
  const targets = await Promise.all(
    sizes.map(async (users, i) => {
      const name = `bench_service_scale${i}`;
      const databaseUrl = await running.db.recreate(name);
      const env = serviceEnv({
        databaseUrl,
        sinchUrl: running.emulator.url,
        sinch: running.sinch,
        jwtPrivateKey: running.jwtPrivateKey,
        bcryptCost: 4,
      });
      const child = await Child.start(`service-${users}-users`, 'bench/service-process.ts', env, running.logDir);
      running.children.push(child);
      return { name, users, child, client: new GraphQLClient(`service (${users} users)`, child.url), times: flowTimes() };
    }),
  );
  try {
    for (const target of targets) await insertUsers(running, target.name, target.users, report);
    const n = SETTINGS.scaleSamples;
    for (let i = 0; i < n + 5; i++) {
      for (const target of targets) {
        const g = Math.floor(Math.random() * target.users);
        const user = { email: `sql.${g}@example.com`, phoneNumber: `+447400${String(g % 1_000_000).padStart(6, '0')}` };
        await timedFlow(target.client, running.emulator, user, i < 5 ? flowTimes() : target.times);
      }
    }
  } finally {
    for (const target of targets) {
      target.client.close();
      await target.child.stop();
      await running.db.drop(target.name);
    }
  }
  const [small, big] = targets;
  const label = SETTINGS.scaleUsers >= 1_000_000 ? `${SETTINGS.scaleUsers / 1_000_000}M` : `${SETTINGS.scaleUsers / 1000}k`;
  for (const step of ['login', 'verifyOtp'] as const) {
    const [a, b] = [median(big.times[step]), median(small.times[step])];
    report.add({
      rank: 90,
      measure: `${step} p50, ${label} users ÷ 1k users (ms)`,
      service: fmt(a),
      comparator: `1k users ${fmt(b)}`,
      ratio: a / b,
      target: '≤ 1.1',
      ok: a / b <= 1.1,
    });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
