import { afterAll, beforeAll } from 'vitest';
import { startApp, type RunningApp } from '../../src/app';
import { loadConfig, RATE_LIMIT_POLICIES } from '../../src/config/config';
import { createLogger } from '../../src/logging/logger';
import { generateEphemeralKey } from '../../src/tokens/signing-key';
import { createScratchDatabase } from './database';
import { graphqlClient, type GraphQLRequest } from './graphql-client';
import { LOGIN, REGISTER, REQUEST_OTP, VERIFY_OTP } from './operations';
import { TestClock } from './test-clock';

export interface TestApp {
  app: RunningApp;
  clock: TestClock;
  gql: GraphQLRequest;
  databaseUrl: string;
  /** Every log line the service wrote (JSON), for assertions on what is and is not logged. */
  logs: string[];
  /** The last code the emulator sent to a number. */
  codeFor(e164: string): string;
  /** register → requestOtp → verifyOtp, returning what a client would keep. */
  signUp(user?: Partial<TestUser>, headers?: Record<string, string>): Promise<SignedIn>;
  /** login → requestOtp → verifyOtp for an existing user: a new session. */
  signIn(user: TestUser, headers?: Record<string, string>): Promise<SignedIn>;
  stop(): Promise<void>;
}

/** What verifyOtp answers (the AuthPayload), and who signed in. */
export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  refreshExpiresAt: string;
  expiresAt: string;
  session: { id: string; createdAt: string; expiresAt: string; authenticatedAt: string; amr: string[]; current: boolean };
  user: TestUser;
}

export interface TestUser {
  email: string;
  password: string;
  phoneNumber: string;
}

/** Every rate limit and abuse cap lifted: tests share 127.0.0.1 and a few numbers. */
export const UNLIMITED: Record<string, string> = {
  ...Object.fromEntries(Object.values(RATE_LIMIT_POLICIES).map(({ variable }) => [variable, '100000/60'])),
  OTP_SENDS_PER_PHONE_PER_HOUR: '1000',
  OTP_SENDS_PER_PHONE_PER_DAY: '10000',
  OTP_WRONG_CODES_PER_USER_PER_HOUR: '1000',
  OTP_SENDS_PER_COUNTRY_PER_HOUR: '1000000',
  RATE_LIMIT_LOGIN_PER_EMAIL_CEILING: '100000/60',
  OTP_PUMPING_MIN_UNCONVERTED_PER_COUNTRY: '1000000',
  OTP_PUMPING_MIN_UNCONVERTED_PER_PREFIX: '1000000',
};

let counter = 0;

/** A unique user; +44 7400 xxxxxx are valid UK mobile numbers. */
export function newUser(): TestUser {
  counter += 1;
  const n = `${process.pid % 1000}${counter}`.padStart(6, '0').slice(-6);
  return { email: `user${counter}.${Date.now()}@example.com`, password: 'correct horse battery', phoneNumber: `+447400${n}` };
}

/**
 * The real service (real config parsing, real PostgreSQL in a scratch database, the emulator
 * over HTTP) on a random port, with a controllable clock and a cheap bcrypt cost.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: { database?: { url: string; drop: () => Promise<void> }; clock?: TestClock } = {},
): Promise<TestApp> {
  // A database passed in outlives this app (key rotation restarts on one database); it is not dropped here.
  const database = options.database ?? (await createScratchDatabase());
  const dropDatabase = options.database ? async () => {} : database.drop;
  const clock = options.clock ?? new TestClock();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    BCRYPT_COST: '4',
    // Every test shares 127.0.0.1 and a few numbers: limits are lifted unless a test sets its own.
    ...UNLIMITED,
    ...env,
  });
  const logs: string[] = [];
  const echo = process.env.TEST_LOG_LEVEL !== undefined;
  const logger = createLogger({
    level: env.LOG_LEVEL ?? process.env.TEST_LOG_LEVEL ?? 'info',
    destination: {
      write: (line: string) => {
        logs.push(line);
        if (echo) process.stderr.write(line);
      },
    },
  });
  const app = await startApp(config, {
    logger,
    clock,
    // A fresh key per app, unless the test is about the configured keys.
    signingKey: env.JWT_PRIVATE_KEY ? undefined : await generateEphemeralKey(),
    scheduleCleanup: false,
  });
  const gql = graphqlClient(app.url);

  const codeFor = (e164: string) => {
    const code = app.emulator?.lastCodeFor(e164);
    if (!code) throw new Error(`the emulator sent no code to ${e164}`);
    return code;
  };

  const secondFactor = async (pendingToken: string, user: TestUser, headers: Record<string, string>): Promise<SignedIn> => {
    await gql(REQUEST_OTP, { input: { pendingToken } }, headers);
    const verified = await gql(VERIFY_OTP, { input: { pendingToken, code: codeFor(user.phoneNumber) } }, headers);
    if (!verified.data) throw new Error(`verifyOtp failed: ${JSON.stringify(verified.errors)}`);
    return { ...verified.data.verifyOtp, user };
  };

  return {
    app,
    clock,
    gql,
    databaseUrl: database.url,
    logs,
    codeFor,
    async signUp(overrides = {}, headers = {}) {
      const user = { ...newUser(), ...overrides };
      const registered = await gql(REGISTER, { input: user }, headers);
      const pendingToken = registered.data?.register.pendingToken;
      if (!pendingToken) throw new Error(`register failed: ${JSON.stringify(registered.errors)}`);
      return secondFactor(pendingToken, user, headers);
    },
    async signIn(user, headers = {}) {
      return secondFactor(await loginPending(gql, user), user, headers);
    },
    async stop() {
      await app.stop();
      await dropDatabase();
    },
  };
}

/** login → pending token, for tests that start from an existing account. */
export async function loginPending(gql: GraphQLRequest, user: TestUser): Promise<string> {
  const response = await gql(LOGIN, { input: { email: user.email, password: user.password } });
  const token = response.data?.login.pendingToken;
  if (!token) throw new Error(`login failed: ${JSON.stringify(response.errors)}`);
  return token;
}

/**
 * One service for a `describe` block: started before its tests, stopped after them. The value
 * returned stands for the running app (it forwards to it once `beforeAll` has run).
 */
export function useTestApp(env: Record<string, string> = {}, options: { clock?: TestClock } = {}): TestApp {
  let current: TestApp | undefined;
  beforeAll(async () => {
    current = await startTestApp(env, options);
  });
  afterAll(() => current?.stop());
  return new Proxy({} as TestApp, {
    get: (_target, property) => {
      if (!current) throw new Error('the test app is used before beforeAll started it');
      return current[property as keyof TestApp];
    },
  });
}
