import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config';

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
});
