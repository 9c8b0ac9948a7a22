import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import { allowDatabase } from './context/request-scope';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import proxyAddr from 'proxy-addr';
import { ormConfig } from '../mikro-orm.config';
import { AccountService } from './account/account.service';
import { AuditTrail } from './audit/audit-trail';
import { AuthService } from './auth/auth.service';
import { PasswordAttempts } from './auth/password-attempts';
import type { Config } from './config/config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres';
import { withMigrationLock } from './db/migration-lock';
import { createApollo } from './graphql/apollo';
import { buildAppSchema } from './graphql/schema';
import { CorsPolicy } from './http/cors';
import { flowOperations, IDE_PATH, OfflineIde } from './http/ide';
import { HttpDrain } from './http/drain';
import { createHttpServer, serveHttp } from './http/server';
import { Janitor } from './maintenance/janitor';
import { metricsHandler, serveMetricsOnly } from './metrics/endpoint';
import { type Metrics, NO_METRICS, PrometheusMetrics } from './metrics/metrics';
import { poolUseOf } from './db/pool-use';
import { OtpChallenge } from './otp/otp-challenge.entity';
import { ChallengeCompletion } from './otp/challenge-completion';
import { OtpService } from './otp/otp.service';
import { PumpingGuard } from './otp/pumping-guard';
import { OtpProviderEvents } from './otp/otp-provider-events';
import { SeenCallbacks } from './otp/seen-callbacks';
import { SendGuard } from './otp/send-guard';
import { AuthSession } from './sessions/session.entity';
import { SessionService } from './sessions/session.service';
import { PasswordHasher } from './passwords/password-hasher';
import { PhonePolicy } from './phones/phone-policy';
import { TestNumbers } from './phones/test-numbers';
import { RecoveryCodes } from './recovery/recovery-codes';
import { Budget } from './rate-limits/budget';
import { LimiterStore } from './rate-limits/limiter-store';
import { SinchEmulator } from './sinch/emulator/server';
import { createSinchCallbackHandler } from './sinch/callbacks';
import { SinchGateway } from './sinch/gateway';
import { systemClock, type Clock } from './time/clock';
import { importSigningKey, importVerificationKeys, loadOrCreateDevKey, type SigningKey } from './tokens/signing-key';
import { TokenService } from './tokens/token-service';
import { User } from './users/user.entity';

export interface AppOptions {
  logger: Logger;
  clock?: Clock;
  /** Tests pass a fresh key instead of the one kept under the data folder. */
  signingKey?: SigningKey;
  /** Tests read codes from the emulator through this; defaults to a random 6-digit code. */
  generateCode?: () => string;
  /** Tests run the cleanup themselves (`janitor.runOnce()`) instead of on its schedule. */
  scheduleCleanup?: boolean;
}

export interface RunningApp {
  url: string;
  orm: MikroORM;
  /** Present when no Sinch credentials are configured. */
  emulator?: SinchEmulator;
  /** `http://host:port/metrics` of the metrics' own listener, when METRICS_PORT is set. */
  metricsUrl?: string;
  janitor: Janitor;
  /** Drains HTTP (see src/http/drain.ts), then stops everything in the reverse order of start. */
  stop(): Promise<void>;
  /** A second stop signal: the drain's grace ends now (requests in flight still finish). */
  skipDrainGrace(): void;
}

/**
 * The composition root: the only place that picks the embedded or an external database and the
 * emulator or the real Sinch, and wires every service from the validated config.
 */
export async function startApp(config: Config, options: AppOptions): Promise<RunningApp> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const stack: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of stack.reverse()) await step().catch((err: unknown) => logger.error({ err }, 'error during shutdown'));
    stack.length = 0;
  };

  try {
    let embedded: EmbeddedDatabase | undefined;
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
      stack.push(() => embedded!.stop());
    }
    const databaseUrl = config.databaseUrl ?? embedded!.url;
    const orm = await MikroORM.init(ormConfig(databaseUrl, { colors: false, logger: (message) => logger.info({ component: 'orm' }, message) }));
    stack.push(() => orm.close());
    // Replicas started together take turns: the first migrates, the others then find nothing pending.
    await withMigrationLock(databaseUrl, { timeoutSeconds: config.migrationLockTimeoutSeconds, logger }, () => orm.migrator.up());
    const prometheus = config.metrics ? new PrometheusMetrics() : undefined;
    const metrics: Metrics = prometheus ?? NO_METRICS;
    metrics.watchDatabasePool(poolUseOf(orm));

    // Listening now, answering 503 until ready: the emulator needs our address for its callbacks.
    const server = createHttpServer(config.httpTimeouts);
    await listen(server, config.port, config.host);
    stack.push(() => close(server));
    const { port } = server.address() as AddressInfo;
    const ownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const callbackUrl = `http://${ownHost}:${port}${config.sinchCallbackPath}`;

    const sinch = await connectSinch(config, { logger, clock, metrics, generateCode: options.generateCode, callbackUrl });
    metrics.watchBreaker('sinch', () => sinch.gateway.circuit);
    if (sinch.emulator) stack.push(() => sinch.emulator!.stop());

    const signingKey =
      options.signingKey ?? (config.jwt.privateKey ? await importSigningKey(config.jwt.privateKey) : await loadOrCreateDevKey(config.dataDir));
    const verificationKeys = config.jwt.verificationKeys ? await importVerificationKeys(config.jwt.verificationKeys) : [];
    const tokens = new TokenService(
      signingKey,
      verificationKeys,
      { ...config.jwt, accessTokenTtlSeconds: config.limits.accessTokenTtlSeconds },
      clock,
    );
    const hasher = new PasswordHasher(config.bcryptCost);
    stack.push(() => hasher.close());
    metrics.watchPasswordQueue(() => hasher.queueDepth);
    await hasher.warmUp();

    const limiterStore = await connectLimiterStore(config, orm, logger);
    stack.push(() => limiterStore.close());
    // `synced`: held in process and synced each second (see SyncedLimiter), for a ceiling where a
    // second's lag between processes is harmless; otherwise counted in the store on every take.
    const budget = (keyPrefix: string, points: number, duration: number, kind: 'shared' | 'synced' = 'shared') => {
      const options = { keyPrefix, points, duration };
      const limiter = kind === 'synced' ? limiterStore.store.createSynced(options) : limiterStore.store.create(options);
      return new Budget(limiter, () => metrics.limiterRefusal(keyPrefix));
    };
    const { abuse } = config;

    const users = orm.em.getRepository(User);
    const challenges = orm.em.getRepository(OtpChallenge);
    const audit = new AuditTrail({ em: orm.em, clock, logger });
    const recoveryCodes = new RecoveryCodes(orm.em);
    const sessions = new SessionService({ sessions: orm.em.getRepository(AuthSession), tokens, audit, clock, limits: config.sessions, logger });
    const testNumbers = new TestNumbers(config.testNumbers, clock);
    if (testNumbers.count > 0) {
      logger.warn(
        { testNumbers: testNumbers.count, until: config.testNumbers!.until.toISOString() },
        `${testNumbers.count} test numbers are active (OTP_TEST_NUMBERS): their codes never reach Sinch and are fixed`,
      );
    }
    const phones = new PhonePolicy(config.phones, testNumbers);
    // Statistics, not caps: a second's lag between processes does not matter (see SyncedLimiter).
    const counter = (keyPrefix: string) =>
      limiterStore.store.createSynced({ keyPrefix, points: Number.MAX_SAFE_INTEGER, duration: config.pumping.windowSeconds });
    const pumping = new PumpingGuard({ sends: counter('pumpingSends'), conversions: counter('pumpingConversions') }, config.pumping, logger, metrics);
    const sendGuard = new SendGuard(
      {
        phonePerHour: budget('sendsPerPhoneHour', abuse.phoneSendsPerHour, 3600),
        phonePerDay: budget('sendsPerPhoneDay', abuse.phoneSendsPerDay, 86_400),
        // A ceiling for pumping waves, held in process like the statistics; caps per number stay exact.
        countryPerHour: budget('sendsPerCountryHour', abuse.countrySendsPerHour, 3600, 'synced'),
      },
      pumping,
      logger,
    );
    const wrongCodesPerUser = budget('wrongCodesPerUserHour', abuse.wrongCodesPerUserPerHour, 3600);
    // Login's per-email-and-network counters are the directive's own (same key prefix, same window).
    const loginWindow = config.rateLimits.policies.loginPerEmail;
    const ceiling = abuse.loginCeilingPerEmail;
    const otp = new OtpService({
      challenges,
      tokens,
      provider: testNumbers.provider(sinch.gateway),
      completion: new ChallengeCompletion({ users, sessions, recoveryCodes, audit, clock }),
      recoveryCodes,
      audit,
      sendGuard,
      wrongCodesPerUser,
      sendInFlightWaitMs: config.sinchTimeoutMs + 1000,
      clock,
      limits: config.limits,
      logger,
      metrics,
    });
    const passwordAttempts = new PasswordAttempts({
      perEmailAndNetwork: budget('loginPerEmail', loginWindow.limit, loginWindow.durationSeconds),
      ceilingPerEmail: budget('loginCeilingPerEmail', ceiling.limit, ceiling.durationSeconds),
      audit,
    });
    const auth = new AuthService({ users, hasher, phones, otp, audit, passwordAttempts, clock, logger });
    const account = new AccountService({
      users,
      otp,
      sessions,
      hasher,
      phones,
      recoveryCodes,
      audit,
      passwordAttempts,
      wrongCodesPerUser,
      clock,
      logger,
    });

    const schema = await buildAppSchema(
      { auth, otp, sessions, account, audit, recoveryCodes },
      { policies: config.rateLimits.policies, store: limiterStore.store, metrics },
    );
    const production = config.nodeEnv === 'production';
    // Development: Apollo Sandbox on the flow's operations, or offline the IDE served from npm.
    const document = production ? undefined : await flowOperations();
    const ide = document === undefined ? undefined : await OfflineIde.create(document);
    const landingPage = document === undefined ? undefined : { document, fallbackPath: IDE_PATH };
    const apollo = createApollo(schema, { production, limits: config.graphql, landingPage, metrics: prometheus });
    await apollo.start();
    stack.push(() => apollo.stop());

    const callbacks = createSinchCallbackHandler({
      ...sinch.credentials,
      events: new OtpProviderEvents({ challenges, clock, logger }),
      replays: new SeenCallbacks(orm.em),
      onDenied: (reference) => sinch.gateway.noteDenied(reference),
      logger,
      clock: () => clock.now(),
    });
    const janitor = new Janitor({
      em: orm.em,
      clock,
      logger,
      intervalSeconds: config.cleanupIntervalSeconds,
      auditRetentionDays: config.auditRetentionDays,
    });
    if (options.scheduleCleanup !== false) janitor.start();
    stack.push(() => janitor.stop());

    serveHttp(server, {
      apollo,
      logger,
      maxBodyBytes: config.maxBodyBytes,
      isDatabaseReady: () => orm.isConnected(),
      isDraining: () => drain.draining,
      jwks: () => tokens.jwks(),
      trustProxy: proxyAddr.compile(config.trustProxy),
      callbacks: { path: config.sinchCallbackPath, handle: callbacks },
      cors: new CorsPolicy(config.cors),
      ide,
      // On the main port only when no port of their own is configured.
      metrics: prometheus && config.metrics?.port === undefined ? metricsHandler(prometheus, config.metrics?.token) : undefined,
      withRequestScope: (work) => {
        allowDatabase(orm.em);
        return work();
      },
    });
    // After serveHttp, which replaces the 'request' listeners. The first step of an orderly stop:
    // HTTP drains before the janitor, Apollo and the database stop.
    const drain = new HttpDrain(server, { graceSeconds: config.shutdown.drainSeconds, timeoutSeconds: config.shutdown.timeoutSeconds }, logger);
    stack.push(() => drain.close());
    const metricsUrl = prometheus && config.metrics?.port !== undefined ? await listenForMetrics(prometheus, config, logger, stack) : undefined;
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    return {
      url: `http://${host}:${port}/graphql`,
      orm,
      emulator: sinch.emulator,
      metricsUrl,
      janitor,
      stop,
      skipDrainGrace: () => drain.skipGrace(),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function connectSinch(
  config: Config,
  deps: { logger: Logger; clock: Clock; metrics: Metrics; generateCode?: () => string; callbackUrl: string },
) {
  const settings = {
    metrics: deps.metrics,
    auth: config.sinchAuth,
    timeoutMs: config.sinchTimeoutMs,
    breaker: config.sinchBreaker,
    logger: deps.logger,
    clock: () => deps.clock.now(),
  };
  if (config.sinch) {
    return {
      gateway: new SinchGateway({ ...settings, baseUrl: config.sinchBaseUrl, ...config.sinch }),
      credentials: config.sinch,
      emulator: undefined,
    };
  }
  // No credentials: a local emulator with credentials made up for this process only.
  const credentials = { applicationKey: randomUUID(), applicationSecret: randomBytes(16).toString('base64') };
  const emulator = new SinchEmulator({
    ...credentials,
    logger: deps.logger,
    clock: settings.clock,
    generateCode: deps.generateCode,
    // The emulator calls back like Sinch does, so the whole callback loop runs locally too.
    callbackUrl: deps.callbackUrl,
  });
  const baseUrl = await emulator.start();
  deps.logger.info({ baseUrl }, 'no Sinch credentials set: using the built-in Sinch emulator (codes appear in this log)');
  return { gateway: new SinchGateway({ ...settings, baseUrl, ...credentials }), credentials, emulator };
}

/** The rate-limit counters' home: the ORM's own PostgreSQL pool, a Redis, or this process. */
async function connectLimiterStore(config: Config, orm: MikroORM, logger: Logger) {
  const { store, redisUrl } = config.rateLimits;
  if (store === 'memory') logger.warn('RATE_LIMIT_STORE=memory: limits are counted per process; run one process only');
  const redis = store === 'redis' ? new Redis(redisUrl!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true }) : undefined;
  if (redis) {
    redis.on('error', (err) => logger.debug({ err }, 'Redis connection error'));
    await redis.connect();
  }
  const limiters = new LimiterStore(config.rateLimits, { knex: orm.em.getKnex(), redis, logger });
  return {
    store: limiters,
    close: async () => {
      await limiters.close();
      await redis?.quit();
    },
  };
}

/** METRICS_PORT: a listener that serves `/metrics` only (and closes first at shutdown). */
async function listenForMetrics(metrics: PrometheusMetrics, config: Config, logger: Logger, stack: Array<() => Promise<unknown>>): Promise<string> {
  const { host, port, token } = config.metrics!;
  const server = createHttpServer(config.httpTimeouts);
  serveMetricsOnly(server, metricsHandler(metrics, token), logger);
  await listen(server, port!, host);
  stack.push(() => close(server));
  const bound = server.address() as AddressInfo;
  return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/metrics`;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
