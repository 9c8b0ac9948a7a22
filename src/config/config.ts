import type { CountryCode } from 'libphonenumber-js/max';
import { type Env, EnvReader } from './env-reader';
import type { HttpTimeouts } from '../http/server';
import type { PumpingSettings } from '../otp/pumping-guard';
import type { TestNumbersConfig } from '../phones/test-numbers';
import { parsePrivateKey, parseVerificationKeys } from '../tokens/signing-key';

export { ConfigError } from './env-reader';

/**
 * Every setting the service reads, validated once at start-up. A malformed variable, or one that
 * production requires and lacks, is reported as one line naming the variable (ConfigError), and
 * start-up stops. A variable set to the empty string counts as unset.
 */
export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: string;
  /** Unset → embedded PostgreSQL under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** How long a starting instance waits for another one's migrations before giving up. */
  migrationLockTimeoutSeconds: number;
  /** Unset → the built-in Sinch emulator with credentials generated at start. */
  sinch?: SinchConfig;
  sinchBaseUrl: string;
  sinchAuth: 'signed' | 'basic';
  sinchTimeoutMs: number;
  /** Consecutive outages that open the circuit to Sinch, and how long it stays open. */
  sinchBreaker: { failureThreshold: number; resetTimeoutMs: number };
  /** Where Sinch posts its callbacks (set the same URL path in the Sinch dashboard). */
  sinchCallbackPath: string;
  jwt: {
    privateKey?: string;
    /** More keys accepted when verifying and published in the JWKS (key rotation). */
    verificationKeys?: string;
    issuer: string;
    audience: string;
  };
  bcryptCost: number;
  phones: { allowedCountries?: CountryCode[]; deniedCountries: CountryCode[] };
  limits: FlowLimits;
  sessions: SessionLimits;
  abuse: AbuseLimits;
  /** The SMS pumping guard that reads conversions (src/otp/pumping-guard.ts). */
  pumping: PumpingSettings;
  rateLimits: RateLimitConfig;
  graphql: GraphQLLimits;
  /** proxy-addr trust list: whose X-Forwarded-For to believe. Empty: nobody's. */
  trustProxy: string[];
  maxBodyBytes: number;
  httpTimeouts: HttpTimeouts;
  cors: CorsConfig;
  /** The orderly stop on SIGTERM/SIGINT (src/http/drain.ts). */
  shutdown: { drainSeconds: number; timeoutSeconds: number };
  /** How often each replica tries to delete expired rows (one replica at a time does the work). */
  cleanupIntervalSeconds: number;
  /** Audit events older than this are deleted. */
  auditRetentionDays: number;
  /** `OTP_TEST_NUMBERS` with `OTP_TEST_NUMBERS_UNTIL`; unset: none. */
  testNumbers?: TestNumbersConfig;
  /** `GET /metrics` (Prometheus); unset: off, and /metrics answers 404. */
  metrics?: MetricsConfig;
}

/**
 * Where the metrics are served: with `port`, on a listener of their own (at `host`), else on the
 * main port; with `token`, only to `Authorization: Bearer <token>`.
 */
export interface MetricsConfig {
  token?: string;
  port?: number;
  host: string;
}

/** A bearer token shorter than this is refused in production: scrapers keep it in a file, it can be long. */
export const METRICS_TOKEN_MIN_LENGTH = 32;

/** Lifetimes of sessions and their refresh tokens (contract, "Limits added"). */
export interface SessionLimits {
  refreshTokenTtlSeconds: number;
  sessionMaxTtlSeconds: number;
  refreshReuseGraceSeconds: number;
  /** How recent a proven second factor must be for account changes. */
  stepUpMaxAgeSeconds: number;
}

/** Which browser origins may call /graphql. */
export interface CorsConfig {
  /** Exact origins (`scheme://host[:port]`, normalised). */
  origins: string[];
  /** `*`: any origin (refused in production). */
  anyOrigin: boolean;
  /** The development default: any port on http://localhost and http://127.0.0.1. */
  anyLocalhostPort: boolean;
}

/** Limits across pending tokens: per phone number, per user, per country calling code. */
export interface AbuseLimits {
  /** Password checks of one email across every network but those it signed in from. */
  loginCeilingPerEmail: Window;
  phoneSendsPerHour: number;
  phoneSendsPerDay: number;
  wrongCodesPerUserPerHour: number;
  countrySendsPerHour: number;
}

export interface Window {
  limit: number;
  durationSeconds: number;
}

/** Per-operation limits applied by the GraphQL rate-limit directives (src/rate-limits). */
export const RATE_LIMIT_POLICIES = {
  registerPerIp: { variable: 'RATE_LIMIT_REGISTER_PER_IP', fallback: '10/3600' },
  loginPerIp: { variable: 'RATE_LIMIT_LOGIN_PER_IP', fallback: '50/900' },
  loginPerEmail: { variable: 'RATE_LIMIT_LOGIN_PER_EMAIL', fallback: '10/900' },
  requestOtpPerIp: { variable: 'RATE_LIMIT_REQUEST_OTP_PER_IP', fallback: '20/3600' },
  verifyOtpPerIp: { variable: 'RATE_LIMIT_VERIFY_OTP_PER_IP', fallback: '60/3600' },
  otpStatusPerIp: { variable: 'RATE_LIMIT_OTP_STATUS_PER_IP', fallback: '120/60' },
  mePerIp: { variable: 'RATE_LIMIT_ME_PER_IP', fallback: '600/60' },
  refreshSessionPerIp: { variable: 'RATE_LIMIT_REFRESH_SESSION_PER_IP', fallback: '60/60' },
  sessionsPerIp: { variable: 'RATE_LIMIT_SESSIONS_PER_IP', fallback: '300/60' },
  verifyRecoveryCodePerIp: { variable: 'RATE_LIMIT_VERIFY_RECOVERY_CODE_PER_IP', fallback: '30/3600' },
  accountChangesPerIp: { variable: 'RATE_LIMIT_ACCOUNT_CHANGES_PER_IP', fallback: '30/3600' },
} as const;

export type RateLimitPolicy = keyof typeof RATE_LIMIT_POLICIES;

export interface RateLimitConfig {
  /** Where counters live: shared by every process on the same database or Redis, or this one only. */
  store: 'postgres' | 'redis' | 'memory';
  redisUrl?: string;
  policies: Record<RateLimitPolicy, Window>;
  /** How often counts of the hot read paths, held in each process, are added to the PostgreSQL store. */
  syncMs: number;
}

export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
}

export interface SinchConfig {
  applicationKey: string;
  applicationSecret: string;
}

/** The limits that belong to the OTP flow itself (contract, "Limits"). */
export interface FlowLimits {
  pendingTokenTtlSeconds: number;
  codeTtlSeconds: number;
  maxWrongCodesPerToken: number;
  maxSendsPerToken: number;
  resendCooldownSeconds: number;
  accessTokenTtlSeconds: number;
}

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';

  const sinchKey = read.string('SINCH_APPLICATION_KEY');
  const sinchSecret = read.string('SINCH_APPLICATION_SECRET');
  if ((sinchKey === undefined) !== (sinchSecret === undefined)) {
    read.problem(sinchKey ? 'SINCH_APPLICATION_SECRET' : 'SINCH_APPLICATION_KEY', 'must be set together with its pair');
  }
  if (sinchSecret !== undefined && !/^[A-Za-z0-9+/_-]+={0,2}$/.test(sinchSecret)) {
    read.problem('SINCH_APPLICATION_SECRET', 'must be the base64 secret shown in the Sinch dashboard');
  }

  const config: Config = {
    nodeEnv,
    port: read.int('PORT', 4000, 0, 65535),
    host: read.string('HOST') ?? '0.0.0.0',
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: read.string('DATA_DIR') ?? '.data',
    migrationLockTimeoutSeconds: read.int('MIGRATION_LOCK_TIMEOUT_SECONDS', 120, 1, 3600),
    sinch: sinchKey && sinchSecret ? { applicationKey: sinchKey, applicationSecret: sinchSecret } : undefined,
    sinchBaseUrl: read.url('SINCH_BASE_URL', ['https:', 'http:']) ?? 'https://verification.api.sinch.com',
    sinchAuth: read.oneOf('SINCH_AUTH', ['signed', 'basic'] as const, 'signed'),
    sinchTimeoutMs: read.int('SINCH_TIMEOUT_MS', 5000, 100, 60_000),
    sinchBreaker: {
      failureThreshold: read.int('SINCH_BREAKER_FAILURES', 5, 1, 1000),
      resetTimeoutMs: read.int('SINCH_BREAKER_OPEN_SECONDS', 30, 1, 3600) * 1000,
    },
    sinchCallbackPath: read.path('SINCH_CALLBACK_PATH', '/sinch/callbacks'),
    jwt: {
      privateKey: read.string('JWT_PRIVATE_KEY'),
      verificationKeys: read.string('JWT_VERIFICATION_KEYS'),
      issuer: read.string('JWT_ISSUER') ?? 'sinch-2fa',
      audience: read.string('JWT_AUDIENCE') ?? 'sinch-2fa-clients',
    },
    bcryptCost: read.int('BCRYPT_COST', 12, 4, 15),
    phones: {
      allowedCountries: read.countries('PHONE_ALLOWED_COUNTRIES'),
      deniedCountries: read.countries('PHONE_DENIED_COUNTRIES') ?? [],
    },
    limits: {
      pendingTokenTtlSeconds: read.int('PENDING_TOKEN_TTL_SECONDS', 600, 60, 3600),
      codeTtlSeconds: read.int('OTP_CODE_TTL_SECONDS', 300, 30, 3600),
      maxWrongCodesPerToken: read.int('OTP_MAX_WRONG_CODES_PER_TOKEN', 5, 1, 20),
      maxSendsPerToken: read.int('OTP_MAX_SENDS_PER_TOKEN', 3, 1, 10),
      resendCooldownSeconds: read.int('OTP_RESEND_COOLDOWN_SECONDS', 30, 0, 3600),
      accessTokenTtlSeconds: read.int('ACCESS_TOKEN_TTL_SECONDS', 900, 1, 86_400),
    },
    sessions: {
      refreshTokenTtlSeconds: read.int('REFRESH_TOKEN_TTL_SECONDS', 14 * 86_400, 1, 366 * 86_400),
      sessionMaxTtlSeconds: read.int('SESSION_MAX_TTL_SECONDS', 30 * 86_400, 1, 366 * 86_400),
      refreshReuseGraceSeconds: read.int('REFRESH_REUSE_GRACE_SECONDS', 30, 0, 3600),
      stepUpMaxAgeSeconds: read.int('STEP_UP_MAX_AGE_SECONDS', 600, 1, 86_400),
    },
    abuse: {
      loginCeilingPerEmail: read.window('RATE_LIMIT_LOGIN_PER_EMAIL_CEILING', '100/86400'),
      phoneSendsPerHour: read.int('OTP_SENDS_PER_PHONE_PER_HOUR', 5, 1, 1000),
      phoneSendsPerDay: read.int('OTP_SENDS_PER_PHONE_PER_DAY', 10, 1, 10_000),
      wrongCodesPerUserPerHour: read.int('OTP_WRONG_CODES_PER_USER_PER_HOUR', 10, 1, 1000),
      countrySendsPerHour: read.int('OTP_SENDS_PER_COUNTRY_PER_HOUR', 200, 1, 1_000_000),
    },
    pumping: {
      windowSeconds: read.int('OTP_PUMPING_WINDOW_SECONDS', 3600, 60, 86_400),
      minUnconvertedPerCountry: read.int('OTP_PUMPING_MIN_UNCONVERTED_PER_COUNTRY', 20, 1, 1_000_000),
      minUnconvertedPerPrefix: read.int('OTP_PUMPING_MIN_UNCONVERTED_PER_PREFIX', 10, 1, 1_000_000),
      minConversionRate: read.int('OTP_PUMPING_MIN_CONVERSION_PERCENT', 30, 0, 100) / 100,
    },
    rateLimits: {
      store: read.oneOf('RATE_LIMIT_STORE', ['postgres', 'redis', 'memory'] as const, read.string('REDIS_URL') ? 'redis' : 'postgres'),
      redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
      policies: Object.fromEntries(
        Object.entries(RATE_LIMIT_POLICIES).map(([policy, { variable, fallback }]) => [policy, read.window(variable, fallback)]),
      ) as Record<RateLimitPolicy, Window>,
      syncMs: read.int('RATE_LIMIT_SYNC_MS', 1000, 100, 10_000),
    },
    graphql: {
      maxDepth: read.int('GRAPHQL_MAX_DEPTH', 6, 2, 50),
      maxAliases: read.int('GRAPHQL_MAX_ALIASES', 10, 0, 1000),
      maxCost: read.int('GRAPHQL_MAX_COST', 2000, 10, 1_000_000),
      maxTokens: read.int('GRAPHQL_MAX_TOKENS', 1000, 50, 1_000_000),
    },
    trustProxy: read.list('TRUST_PROXY'),
    maxBodyBytes: read.int('MAX_BODY_BYTES', 64 * 1024, 1024, 10 * 1024 * 1024),
    httpTimeouts: {
      headersMs: read.int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 120_000),
      requestMs: read.int('HTTP_REQUEST_TIMEOUT_MS', 15_000, 100, 300_000),
      idleMs: read.int('HTTP_IDLE_TIMEOUT_MS', 30_000, 100, 600_000),
    },
    cors: read.cors('CORS_ORIGINS', production),
    shutdown: {
      // In production a load balancer must see /readyz fail before the listener closes; elsewhere
      // nobody is watching, and Ctrl-C should be quick.
      drainSeconds: read.int('SHUTDOWN_DRAIN_SECONDS', production ? 5 : 0, 0, 600),
      timeoutSeconds: read.int('SHUTDOWN_TIMEOUT_SECONDS', 20, 1, 600),
    },
    cleanupIntervalSeconds: read.int('CLEANUP_INTERVAL_SECONDS', 600, 10, 86_400),
    auditRetentionDays: read.int('AUDIT_RETENTION_DAYS', 400, 1, 36_500),
    testNumbers: read.testNumbers('OTP_TEST_NUMBERS', 'OTP_TEST_NUMBERS_UNTIL', production),
    metrics: readMetrics(read, production),
  };
  if (config.metrics?.port && config.metrics.port === config.port) read.problem('METRICS_PORT', `must differ from PORT (${config.port})`);
  if (config.rateLimits.store === 'redis' && !config.rateLimits.redisUrl) read.problem('REDIS_URL', 'is required when RATE_LIMIT_STORE=redis');

  // Checked now, so a bad key stops start-up before any database work.
  if (config.jwt.privateKey) {
    try {
      parsePrivateKey(config.jwt.privateKey);
    } catch (error) {
      read.problem('JWT_PRIVATE_KEY', (error as Error).message);
    }
  }
  if (config.jwt.verificationKeys) {
    try {
      parseVerificationKeys(config.jwt.verificationKeys);
    } catch (error) {
      read.problem('JWT_VERIFICATION_KEYS', (error as Error).message);
    }
  }
  if (production) {
    if (!config.databaseUrl) read.problem('DATABASE_URL', 'is required when NODE_ENV=production (no embedded database)');
    if (!config.sinch) read.problem('SINCH_APPLICATION_KEY', 'and SINCH_APPLICATION_SECRET are required when NODE_ENV=production (no emulator)');
    if (!config.jwt.privateKey) read.problem('JWT_PRIVATE_KEY', 'is required when NODE_ENV=production (no generated key)');
  }
  read.throwIfAny();
  return config;
}

/** `METRICS_TOKEN` and/or `METRICS_PORT` turn the metrics on; neither: off. */
function readMetrics(read: EnvReader, production: boolean): MetricsConfig | undefined {
  const token = read.string('METRICS_TOKEN');
  const port = read.string('METRICS_PORT') === undefined ? undefined : read.int('METRICS_PORT', 0, 0, 65535);
  const host = read.string('METRICS_HOST') ?? '127.0.0.1';
  // The length only: the token itself is never echoed.
  if (token !== undefined && production && token.length < METRICS_TOKEN_MIN_LENGTH) {
    read.problem('METRICS_TOKEN', `must be at least ${METRICS_TOKEN_MIN_LENGTH} characters when NODE_ENV=production (got ${token.length})`);
  }
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token))
    read.problem('METRICS_TOKEN', 'must be printable ASCII without spaces (it travels in a header)');
  if (token === undefined && port === undefined) {
    if (read.string('METRICS_HOST') !== undefined) read.problem('METRICS_HOST', 'is set but METRICS_PORT is not');
    return undefined;
  }
  return { token, port, host };
}
