import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config';
import { CorsPolicy } from '../../src/http/cors';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('has the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, host: '0.0.0.0', nodeEnv: 'development', bcryptCost: 12, sinchAuth: 'signed' });
    expect(config.sinchBaseUrl).toBe('https://verification.api.sinch.com');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.sinch).toBeUndefined();
    expect(config.limits).toEqual({
      pendingTokenTtlSeconds: 600,
      codeTtlSeconds: 300,
      maxWrongCodesPerToken: 5,
      maxSendsPerToken: 3,
      resendCooldownSeconds: 30,
      accessTokenTtlSeconds: 900,
    });
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', SINCH_APPLICATION_KEY: '', SINCH_APPLICATION_SECRET: ' ' });
    expect(config.port).toBe(4000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.sinch).toBeUndefined();
  });

  it('names each malformed variable on a line of its own', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      BCRYPT_COST: '3',
      SINCH_AUTH: 'oauth',
      DATABASE_URL: 'mysql://x',
      PHONE_DENIED_COUNTRIES: 'GB,ZZ',
    });
    expect(problems).toHaveLength(5);
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['BCRYPT_COST', 'DATABASE_URL', 'PHONE_DENIED_COUNTRIES', 'PORT', 'SINCH_AUTH']);
  });

  it('never echoes a URL, which may hold a password', () => {
    const [problem] = problemsOf({ DATABASE_URL: 'not a url with s3cret' });
    expect(problem).not.toContain('s3cret');
  });

  it('takes a callback path that is a path and not one of the service own', () => {
    expect(loadConfig({ SINCH_CALLBACK_PATH: '/hooks/sinch' }).sinchCallbackPath).toBe('/hooks/sinch');
    expect(problemsOf({ SINCH_CALLBACK_PATH: 'hooks' })).toEqual([expect.stringMatching(/^SINCH_CALLBACK_PATH /)]);
    expect(problemsOf({ SINCH_CALLBACK_PATH: '/graphql' })).toEqual([expect.stringMatching(/^SINCH_CALLBACK_PATH /)]);
  });

  it('requires a key and a secret together', () => {
    expect(problemsOf({ SINCH_APPLICATION_KEY: 'k' })).toEqual([expect.stringMatching(/^SINCH_APPLICATION_SECRET /)]);
  });

  it('checks JWT_PRIVATE_KEY before anything starts: PEM or JWK, Ed25519 or P-256 only', () => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const pem = ed.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(problemsOf({ JWT_PRIVATE_KEY: pem })).toEqual([]);
    expect(problemsOf({ JWT_PRIVATE_KEY: pem.replace(/\n/g, '\\n') })).toEqual([]);
    expect(problemsOf({ JWT_PRIVATE_KEY: JSON.stringify(ed.export({ format: 'jwk' })) })).toEqual([]);
    expect(problemsOf({ JWT_PRIVATE_KEY: 'garbage' })).toEqual([expect.stringMatching(/^JWT_PRIVATE_KEY is not a PKCS8/)]);
    expect(problemsOf({ JWT_PRIVATE_KEY: rsa.export({ type: 'pkcs8', format: 'pem' }).toString() })).toEqual([
      expect.stringMatching(/^JWT_PRIVATE_KEY must be an Ed25519/),
    ]);
  });

  it('refuses to start in production without a database, Sinch credentials and a key', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['DATABASE_URL', 'SINCH_APPLICATION_KEY', 'JWT_PRIVATE_KEY']);
  });

  it('has the session defaults of the contract, each configurable down to 1 second', () => {
    expect(loadConfig({}).sessions).toEqual({
      refreshTokenTtlSeconds: 14 * 86_400,
      sessionMaxTtlSeconds: 30 * 86_400,
      refreshReuseGraceSeconds: 30,
      stepUpMaxAgeSeconds: 600,
    });
    const shortest = { REFRESH_TOKEN_TTL_SECONDS: '1', SESSION_MAX_TTL_SECONDS: '1', REFRESH_REUSE_GRACE_SECONDS: '1', STEP_UP_MAX_AGE_SECONDS: '1' };
    expect(loadConfig(shortest).sessions).toEqual({
      refreshTokenTtlSeconds: 1,
      sessionMaxTtlSeconds: 1,
      refreshReuseGraceSeconds: 1,
      stepUpMaxAgeSeconds: 1,
    });
    expect(
      problemsOf({ REFRESH_TOKEN_TTL_SECONDS: '0', SESSION_MAX_TTL_SECONDS: '-5', REFRESH_REUSE_GRACE_SECONDS: '1.5' }).map((p) => p.split(' ')[0]),
    ).toEqual(['REFRESH_TOKEN_TTL_SECONDS', 'SESSION_MAX_TTL_SECONDS', 'REFRESH_REUSE_GRACE_SECONDS']);
  });

  it('checks JWT_VERIFICATION_KEYS: a JSON array of JWKs or PEM blocks, public or private, Ed25519 or P-256', () => {
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pems = [ed.publicKey.export({ type: 'spki', format: 'pem' }), ec.privateKey.export({ type: 'pkcs8', format: 'pem' })].join('');
    expect(problemsOf({ JWT_VERIFICATION_KEYS: pems })).toEqual([]);
    expect(
      problemsOf({ JWT_VERIFICATION_KEYS: JSON.stringify([ed.publicKey.export({ format: 'jwk' }), ec.privateKey.export({ format: 'jwk' })]) }),
    ).toEqual([]);
    for (const bad of [
      'garbage',
      '[]',
      '[{"kty":"OKP"}]',
      '{"kty":"OKP"}',
      `${pems}trailing`,
      rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ]) {
      expect(problemsOf({ JWT_VERIFICATION_KEYS: bad })).toEqual([expect.stringMatching(/^JWT_VERIFICATION_KEYS /)]);
    }
  });

  it('allows browsers from localhost and the hosted Sandbox in development, from nowhere in production unless listed', () => {
    const development = new CorsPolicy(loadConfig({}).cors);
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://localhost', 'https://studio.apollographql.com']) {
      expect(development.allows(origin)).toBe(true);
    }
    for (const origin of [
      'https://localhost:5173',
      'http://localhost.evil.com',
      'http://evil.com',
      'null',
      'https://studio.apollographql.com.evil.com',
    ]) {
      expect(development.allows(origin)).toBe(false);
    }
    const required = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', SINCH_APPLICATION_KEY: 'k', SINCH_APPLICATION_SECRET: 'c2VjcmV0' };
    const jwt = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const production = { ...required, JWT_PRIVATE_KEY: jwt };
    expect(new CorsPolicy(loadConfig(production).cors).allows('http://localhost:5173')).toBe(false);
    const listed = new CorsPolicy(loadConfig({ ...production, CORS_ORIGINS: 'https://app.example.com, https://Admin.Example.com:8443/' }).cors);
    expect(listed.allows('https://app.example.com')).toBe(true);
    expect(listed.allows('https://admin.example.com:8443')).toBe(true);
    expect(listed.allows('http://app.example.com')).toBe(false);
    expect(problemsOf({ ...production, CORS_ORIGINS: '*' })).toEqual([expect.stringMatching(/^CORS_ORIGINS may not be \*/)]);
    expect(new CorsPolicy(loadConfig({ CORS_ORIGINS: '*' }).cors).allows('https://anything.example')).toBe(true);
    for (const bad of ['app.example.com', 'https://app.example.com/path', 'ftp://x.example', 'https://u:p@x.example']) {
      expect(problemsOf({ CORS_ORIGINS: bad })).toEqual([expect.stringMatching(/^CORS_ORIGINS /)]);
    }
  });

  it('reads OTP_TEST_NUMBERS with a mandatory date, at most 90 days ahead in production', () => {
    const config = loadConfig({ OTP_TEST_NUMBERS: '+15555550100=424242, +447400000077=135790', OTP_TEST_NUMBERS_UNTIL: '2027-03-01' });
    expect(config.testNumbers).toEqual({
      codes: { '+15555550100': '424242', '+447400000077': '135790' },
      until: new Date('2027-03-02T00:00:00Z'), // a date alone: through the end of that day
    });
    expect(problemsOf({ OTP_TEST_NUMBERS: '+15555550100=424242' })).toEqual([expect.stringMatching(/^OTP_TEST_NUMBERS_UNTIL is required/)]);
    expect(problemsOf({ OTP_TEST_NUMBERS_UNTIL: '2027-03-01' })).toEqual([expect.stringMatching(/^OTP_TEST_NUMBERS_UNTIL is set but/)]);
    for (const bad of ['15555550100=424242', '+15555550100', '+15555550100=42', '+15555550100=abcdef', '+1555=424242']) {
      expect(problemsOf({ OTP_TEST_NUMBERS: bad, OTP_TEST_NUMBERS_UNTIL: '2027-03-01' })).toEqual([expect.stringMatching(/^OTP_TEST_NUMBERS /)]);
    }
    for (const bad of ['tomorrow', '2027-02-30', '2027-3-1', '01/03/2027']) {
      expect(problemsOf({ OTP_TEST_NUMBERS: '+15555550100=424242', OTP_TEST_NUMBERS_UNTIL: bad })).toEqual([
        expect.stringMatching(/^OTP_TEST_NUMBERS_UNTIL /),
      ]);
    }
    const jwt = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/x',
      SINCH_APPLICATION_KEY: 'k',
      SINCH_APPLICATION_SECRET: 'c2VjcmV0',
      JWT_PRIVATE_KEY: jwt,
    };
    const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    expect(problemsOf({ ...production, OTP_TEST_NUMBERS: '+15555550100=424242', OTP_TEST_NUMBERS_UNTIL: inDays(89) })).toEqual([]);
    expect(problemsOf({ ...production, OTP_TEST_NUMBERS: '+15555550100=424242', OTP_TEST_NUMBERS_UNTIL: inDays(91) })).toEqual([
      expect.stringMatching(/^OTP_TEST_NUMBERS_UNTIL may be at most 90 days ahead/),
    ]);
  });

  it('syncs process-held counters every second by default, 100 ms to 10 s', () => {
    expect(loadConfig({}).rateLimits.syncMs).toBe(1000);
    expect(loadConfig({ RATE_LIMIT_SYNC_MS: '250' }).rateLimits.syncMs).toBe(250);
    for (const bad of ['99', '10001', '1.5', 'often']) {
      expect(problemsOf({ RATE_LIMIT_SYNC_MS: bad })).toEqual([expect.stringMatching(/^RATE_LIMIT_SYNC_MS /)]);
    }
  });

  it('bounds the wait for another instance migrations: 2 minutes, 1 s to 1 hour', () => {
    expect(loadConfig({}).migrationLockTimeoutSeconds).toBe(120);
    expect(loadConfig({ MIGRATION_LOCK_TIMEOUT_SECONDS: '600' }).migrationLockTimeoutSeconds).toBe(600);
    for (const bad of ['0', '3601', '1.5', 'forever']) {
      expect(problemsOf({ MIGRATION_LOCK_TIMEOUT_SECONDS: bad })).toEqual([expect.stringMatching(/^MIGRATION_LOCK_TIMEOUT_SECONDS /)]);
    }
  });

  it('drains for 5 s in production and not at all elsewhere, then gives requests in flight 20 s', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/x',
      SINCH_APPLICATION_KEY: 'k',
      SINCH_APPLICATION_SECRET: 'c2VjcmV0',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    expect(loadConfig(production).shutdown).toEqual({ drainSeconds: 5, timeoutSeconds: 20 });
    expect(loadConfig({}).shutdown).toEqual({ drainSeconds: 0, timeoutSeconds: 20 });
    expect(loadConfig({ NODE_ENV: 'test' }).shutdown.drainSeconds).toBe(0);
    expect(loadConfig({ ...production, SHUTDOWN_DRAIN_SECONDS: '0', SHUTDOWN_TIMEOUT_SECONDS: '60' }).shutdown).toEqual({
      drainSeconds: 0,
      timeoutSeconds: 60,
    });
    expect(problemsOf({ SHUTDOWN_DRAIN_SECONDS: '-1', SHUTDOWN_TIMEOUT_SECONDS: '0' }).map((p) => p.split(' ')[0])).toEqual([
      'SHUTDOWN_DRAIN_SECONDS',
      'SHUTDOWN_TIMEOUT_SECONDS',
    ]);
    expect(problemsOf({ SHUTDOWN_DRAIN_SECONDS: '601', SHUTDOWN_TIMEOUT_SECONDS: '2.5' })).toHaveLength(2);
  });

  it('turns metrics on with METRICS_TOKEN and/or METRICS_PORT, off with neither', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: '', METRICS_PORT: '' }).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: 'short-is-fine-outside-production' }).metrics).toEqual({
      token: 'short-is-fine-outside-production',
      port: undefined,
      host: '127.0.0.1',
    });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ token: undefined, port: 9464, host: '0.0.0.0' });
    for (const bad of ['http', '70000', '-1']) expect(problemsOf({ METRICS_PORT: bad })).toEqual([expect.stringMatching(/^METRICS_PORT /)]);
    expect(problemsOf({ METRICS_PORT: '4000' })).toEqual([expect.stringMatching(/^METRICS_PORT must differ from PORT/)]);
    expect(problemsOf({ METRICS_HOST: '0.0.0.0' })).toEqual([expect.stringMatching(/^METRICS_HOST is set but METRICS_PORT is not/)]);
    expect(problemsOf({ METRICS_TOKEN: 'two words' })).toEqual([expect.stringMatching(/^METRICS_TOKEN /)]);
    expect(problemsOf({ SINCH_CALLBACK_PATH: '/metrics' })).toEqual([expect.stringMatching(/^SINCH_CALLBACK_PATH /)]);
  });

  it('refuses a METRICS_TOKEN shorter than 32 characters in production, without echoing it', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/x',
      SINCH_APPLICATION_KEY: 'k',
      SINCH_APPLICATION_SECRET: 'c2VjcmV0',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const problems = problemsOf({ ...production, METRICS_TOKEN: 'x'.repeat(31) });
    expect(problems).toEqual([expect.stringMatching(/^METRICS_TOKEN must be at least 32 characters/)]);
    expect(problems[0]).not.toContain('x'.repeat(31));
    expect(problemsOf({ ...production, METRICS_TOKEN: 'x'.repeat(32) })).toEqual([]);
  });
});
