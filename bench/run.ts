/**
 * `npm run bench`: the service measured side by side with two comparators kept in bench/, in one
 * run, printed as one table with ratios and targets (issue 11). BENCH_QUICK=1 shrinks every count
 * (about a minute); the full run takes about ten minutes on a 2-core machine.
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
 * bench_service, bench_express, bench_service_cb, bench_service_sat there), else an embedded one.
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
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RATE_LIMIT_POLICIES } from '../src/config/config';
import { type FlowClient, GraphQLClient, RestClient } from './lib/clients';
import { BenchDatabase } from './lib/db';
import { closedLoop } from './lib/http';
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
};

const EXPECTED = QUICK ? 'about 1 minute' : 'about 10 minutes';

interface Running {
  db: BenchDatabase;
  logDir: string;
  emulator: Child;
  service: Child;
  floor: Child;
  express: Child;
  children: Child[];
  serviceClient: GraphQLClient;
  floorClient: GraphQLClient;
  expressClient: RestClient;
  sinch: { applicationKey: string; applicationSecret: string };
  jwtPrivateKey: string;
  run: string;
}

async function main(): Promise<void> {
  const report = new Report();
  report.progress(`npm run bench${QUICK ? ' (BENCH_QUICK=1)' : ''}: expected duration ${EXPECTED} on a 2-core machine`);
  const logDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-bench-logs-'));
  const children: Child[] = [];
  let db: BenchDatabase | undefined;
  const stopAll = async () => {
    await Promise.all(children.map((child) => child.stop()));
    await db?.stop();
  };
  const emergency = () => {
    for (const child of children) child.kill();
    process.exit(130);
  };
  process.once('SIGINT', emergency);
  process.once('SIGTERM', emergency);

  try {
    db = await report.step('PostgreSQL', async () => BenchDatabase.start());
    const running = await report.step('starting the emulator, the service, the floor and the Express peer', () => startAll(db!, logDir, children));
    report.progress(`${db.description}; logs in ${logDir}`);

    await report.step('`me`: floor, service, Express', () => meComparison(running, report));
  } catch (error) {
    report.progress(`bench failed; child logs are kept in ${logDir}`);
    await stopAll().catch(() => {});
    throw error;
  }
  await stopAll();
  await rm(logDir, { recursive: true, force: true });
  console.log('');
  console.log(report.table());
  console.log('');
  console.log(`Total: ${report.elapsed}${QUICK ? ' (BENCH_QUICK=1: small counts, figures are rough)' : ''}.`);
}

async function startAll(db: BenchDatabase, logDir: string, children: Child[]): Promise<Running> {
  const sinch = { applicationKey: randomUUID(), applicationSecret: randomBytes(16).toString('base64') };
  const jwtPrivateKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const [serviceDb, expressDb] = await Promise.all([db.recreate('bench_service'), db.recreate('bench_express')]);
  const start = async (name: string, entry: string, env: Record<string, string>) => {
    const child = await Child.start(name, entry, env, logDir);
    children.push(child);
    return child;
  };
  const sinchEnv = { SINCH_APPLICATION_KEY: sinch.applicationKey, SINCH_APPLICATION_SECRET: sinch.applicationSecret };
  const emulator = await start('emulator', 'bench/emulator-process.ts', { ...sinchEnv, LOG_LEVEL: 'info' });
  const [service, express] = await Promise.all([
    start('service', 'bench/service-process.ts', serviceEnv({ databaseUrl: serviceDb, sinchUrl: emulator.url, sinch, jwtPrivateKey, bcryptCost: 4 })),
    start('express', 'bench/express-peer.ts', {
      DATABASE_URL: expressDb,
      BCRYPT_COST: '4',
      SINCH_BASE_URL: emulator.url,
      ...sinchEnv,
    }),
  ]);
  const serviceOrigin = new URL(service.url).origin;
  const floor = await start('floor', 'bench/floor.ts', {
    DATABASE_URL: serviceDb,
    SERVICE_JWKS_URL: `${serviceOrigin}/.well-known/jwks.json`,
    JWT_ISSUER: 'sinch-2fa',
    JWT_AUDIENCE: 'sinch-2fa-clients',
    PG_POOL_MAX: '10',
  });
  return {
    db,
    logDir,
    emulator,
    service,
    floor,
    express,
    children,
    serviceClient: new GraphQLClient('service', service.url),
    floorClient: new GraphQLClient('floor', floor.url),
    expressClient: new RestClient('Express', express.url),
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

/** A signed-in user of `client`: its access token. */
async function signedIn(running: Running, client: FlowClient, email: string, phoneNumber: string): Promise<string> {
  const pending = await client.register(email, 'correct horse battery staple', phoneNumber);
  await client.requestOtp(pending);
  const code = await running.emulator.ask<string>('code', { phoneNumber });
  return client.verifyOtp(pending, code);
}

/**
 * `me` at 16 concurrent: the floor, the service and the Express peer in turn, `meRounds` rounds
 * of `meRoundMs` each, after a warm-up; requests/s over all rounds, and CPU per request in the
 * target's own process.
 */
async function meComparison(running: Running, report: Report): Promise<void> {
  const serviceToken = await signedIn(running, running.serviceClient, `me.${running.run}@example.com`, '+447400990001');
  const expressToken = await signedIn(running, running.expressClient, `me.${running.run}@example.com`, '+447400990002');
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
    measure: '`me` requests/s, 16 concurrent',
    service: fmt(service.rps),
    comparator: `floor ${fmt(floor.rps)}`,
    ratio: service.rps / floor.rps,
    target: '≥ 0.5',
    ok: service.rps / floor.rps >= 0.5,
  });
  report.add({
    measure: '`me` requests/s, 16 concurrent',
    service: fmt(service.rps),
    comparator: `Express ${fmt(express.rps)}`,
    ratio: service.rps / express.rps,
    target: '≥ 1.0',
    ok: service.rps / express.rps >= 1,
  });
  report.add({
    measure: 'CPU ms per `me` (target process)',
    service: fmt(service.cpu),
    comparator: `floor ${fmt(floor.cpu)} / Express ${fmt(express.cpu)}`,
    ratio: service.cpu / floor.cpu,
    target: '(informative; ratio to floor)',
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
