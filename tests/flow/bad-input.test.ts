import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, type GraphQLResponse } from '../support/graphql-client';
import { snapshotDatabase } from '../support/db-snapshot';
import {
  AUTH_EVENTS,
  CHANGE_PASSWORD,
  DELETE_ACCOUNT,
  LOGIN,
  LOGOUT,
  LOGOUT_EVERYWHERE,
  ME,
  REFRESH_SESSION,
  REGISTER,
  REQUEST_OTP,
  REVOKE_SESSION,
  SESSIONS,
  START_PHONE_NUMBER_CHANGE,
  VERIFY_OTP,
  VERIFY_RECOVERY_CODE,
} from '../support/operations';
import { loginPending, newUser, startTestApp, type TestApp, useTestApp } from '../support/test-app';

const NASTY_STRINGS = [
  '',
  ' ',
  'a'.repeat(10_000),
  '\u0000',
  'abc\u0000def',
  '\u202Eevil\u202C', // right-to-left override
  'zero\u200Bwidth',
  'e\u0301\u0301\u0301', // stacked combining marks
  '😀🔑',
  "' or 1=1; --",
  '"; drop table app_user; --',
  '\uD800', // lone surrogate
  '1e9',
  '-1',
  '0x1F',
];

function expectCleanError(res: GraphQLResponse, code: string | string[]): void {
  expect([code].flat()).toContain(codeOf(res));
  expect(res.status).toBeLessThan(500);
  expect(JSON.stringify(res.errors)).not.toMatch(/stacktrace|at .*\.ts:\d+/);
}

describe('bad input never changes the database nor answers 500', () => {
  let t: TestApp;
  let existing: Awaited<ReturnType<TestApp['signUp']>>['user'];
  let accessToken: string;
  let before: string;
  beforeAll(async () => {
    t = await startTestApp();
    ({ user: existing, accessToken } = await t.signUp());
    before = await snapshotDatabase(t.databaseUrl);
  });
  afterAll(() => t?.stop());

  it.each(NASTY_STRINGS)('register refuses email %j field by field', async (email) => {
    const res = await t.gql(REGISTER, { input: { ...newUser(), email } });
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('email');
  });

  it.each(['', ' ', 'short', '😀🔑', 'a'.repeat(73), 'a'.repeat(10_000), 'é'.repeat(37), 'abcdefgh\u0000', '          '])(
    'register refuses password %j',
    async (password) => {
      const res = await t.gql(REGISTER, { input: { ...newUser(), password } });
      expectCleanError(res, 'BAD_USER_INPUT');
      expect(res.errors![0].extensions!.field).toBe('password');
    },
  );

  it.each(NASTY_STRINGS)('register refuses phone number %j', async (phoneNumber) => {
    const res = await t.gql(REGISTER, { input: { ...newUser(), phoneNumber } });
    expectCleanError(res, ['BAD_USER_INPUT', 'PHONE_NUMBER_NOT_ALLOWED']);
  });

  it.each(NASTY_STRINGS.filter(Boolean))('register refuses country %j', async (country) => {
    const res = await t.gql(REGISTER, { input: { ...newUser(), country } });
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('country');
  });

  it('register refuses an email that exists in another case', async () => {
    const res = await t.gql(REGISTER, { input: { ...newUser(), email: existing.email.toUpperCase() } });
    expectCleanError(res, 'EMAIL_ALREADY_REGISTERED');
  });

  it.each([
    ['a premium-rate number', '+44 909 879 0000'],
    ['a toll-free number', '+1 800 555 0100'],
    ['a VoIP number', '+44 56 1234 5678'],
  ])('register refuses %s', async (_name, phoneNumber) => {
    expectCleanError(await t.gql(REGISTER, { input: { ...newUser(), phoneNumber } }), 'PHONE_NUMBER_NOT_ALLOWED');
  });

  it.each(NASTY_STRINGS)('login answers INVALID_CREDENTIALS for email %j', async (email) => {
    expectCleanError(await t.gql(LOGIN, { input: { email, password: existing.password } }), 'INVALID_CREDENTIALS');
  });

  it.each([...NASTY_STRINGS, `${'correct horse battery'}x`])('login answers INVALID_CREDENTIALS for password %j', async (password) => {
    expectCleanError(await t.gql(LOGIN, { input: { email: existing.email, password } }), 'INVALID_CREDENTIALS');
  });

  it.each(NASTY_STRINGS)('requestOtp and verifyOtp refuse pending token %j', async (pendingToken) => {
    expectCleanError(await t.gql(REQUEST_OTP, { input: { pendingToken } }), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(VERIFY_OTP, { input: { pendingToken, code: '123456' } }), 'UNAUTHENTICATED');
  });

  it.each(NASTY_STRINGS)('refreshSession refuses refresh token %j', async (refreshToken) => {
    expectCleanError(await t.gql(REFRESH_SESSION, { input: { refreshToken } }), 'UNAUTHENTICATED');
  });

  it.each(NASTY_STRINGS)('revokeSession answers false for session id %j', async (sessionId) => {
    const res = await t.gql(REVOKE_SESSION, { input: { sessionId } }, { authorization: `Bearer ${accessToken}` });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ revokeSession: false });
  });

  // Only what a client can put in a header: fetch refuses control and non-Latin-1 characters itself.
  it.each(NASTY_STRINGS.filter((s) => /^[\x20-\x7e]*$/.test(s)))('every bearer operation refuses the bearer token %j', async (token) => {
    for (const query of [ME, SESSIONS, LOGOUT, LOGOUT_EVERYWHERE]) {
      expectCleanError(await t.gql(query, {}, { authorization: `Bearer ${token}` }), 'UNAUTHENTICATED');
    }
  });

  it.each(NASTY_STRINGS)('verifyRecoveryCode refuses pending token %j', async (pendingToken) => {
    expectCleanError(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken, recoveryCode: '0000-0000-0000-0000' } }), 'UNAUTHENTICATED');
  });

  it.each(NASTY_STRINGS)('startPhoneNumberChange refuses phone number %j', async (phoneNumber) => {
    const res = await t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber } }, { authorization: `Bearer ${accessToken}` });
    expectCleanError(res, ['BAD_USER_INPUT', 'PHONE_NUMBER_NOT_ALLOWED']);
  });

  it.each(NASTY_STRINGS.filter(Boolean))('startPhoneNumberChange refuses country %j', async (country) => {
    const res = await t.gql(
      START_PHONE_NUMBER_CHANGE,
      { input: { phoneNumber: '07911 123456', country } },
      { authorization: `Bearer ${accessToken}` },
    );
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('country');
  });

  it.each(NASTY_STRINGS)('changePassword and deleteAccount refuse the password %j as wrong', async (password) => {
    const auth = { authorization: `Bearer ${accessToken}` };
    expectCleanError(
      await t.gql(CHANGE_PASSWORD, { input: { currentPassword: password, newPassword: 'a new long password' } }, auth),
      'INVALID_CREDENTIALS',
    );
    expectCleanError(await t.gql(DELETE_ACCOUNT, { input: { password } }, auth), 'INVALID_CREDENTIALS');
  });

  it.each([0, -1, 101, 2 ** 31 - 1])('authEvents refuses first %j', async (first) => {
    const res = await t.gql(AUTH_EVENTS, { first }, { authorization: `Bearer ${accessToken}` });
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('first');
  });

  it.each(NASTY_STRINGS)('authEvents refuses the cursor %j', async (after) => {
    const res = await t.gql(AUTH_EVENTS, { first: 5, after }, { authorization: `Bearer ${accessToken}` });
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('after');
  });

  it.each([
    ['a refresh token of the wrong type', REFRESH_SESSION, { input: { refreshToken: 12345 } }],
    ['a session id of the wrong type', REVOKE_SESSION, { input: { sessionId: { id: 1 } } }],
    ['a missing refresh token', REFRESH_SESSION, { input: {} }],
  ])('answers BAD_USER_INPUT for %s', async (_name, query, variables) => {
    expectCleanError(await t.gql(query, variables, { authorization: `Bearer ${accessToken}` }), 'BAD_USER_INPUT');
  });

  it.each([
    ['wrong types', REGISTER, { input: { email: 1, password: true, phoneNumber: [], country: {} } }],
    ['a missing field', LOGIN, { input: { email: 'a@b.co' } }],
    ['null input', VERIFY_OTP, { input: null }],
    ['an unknown channel', REQUEST_OTP, { input: { pendingToken: 'x', channel: 'PIGEON' } }],
    ['an extra field', LOGIN, { input: { email: 'a@b.co', password: 'x', admin: true } }],
  ])('answers BAD_USER_INPUT for %s', async (_name, query, variables) => {
    expectCleanError(await t.gql(query, variables), 'BAD_USER_INPUT');
  });

  it('answers parse and validation failures with Apollo codes, not 500', async () => {
    expectCleanError(await t.gql('mutation { login(input: {', {}), 'GRAPHQL_PARSE_FAILED');
    expectCleanError(await t.gql('{ me { passwordHash } }', {}), 'GRAPHQL_VALIDATION_FAILED');
  });

  it('leaves the database as it was', async () => {
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });
});

describe('register races', () => {
  const t = useTestApp();
  it('lets exactly one of many concurrent registers of one email through; the others answer EMAIL_ALREADY_REGISTERED', async () => {
    const user = newUser();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.gql(REGISTER, { input: { ...newUser(), email: i % 2 ? user.email.toUpperCase() : user.email } })),
    );
    expect(results.filter((res) => res.data?.register?.pendingToken)).toHaveLength(1);
    for (const res of results.filter((r) => r.errors)) expectCleanError(res, 'EMAIL_ALREADY_REGISTERED');
  });
});

describe('bad input on a live pending token', () => {
  const t = useTestApp();

  it('refuses a channel the number cannot receive', async () => {
    const landline = { ...newUser(), phoneNumber: '+44 20 7946 0123' };
    const registered = await t.gql(REGISTER, { input: landline });
    expect(registered.data!.register.channels).toEqual(['VOICE']);
    const res = await t.gql(REQUEST_OTP, { input: { pendingToken: registered.data!.register.pendingToken, channel: 'SMS' } });
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('channel');
  });

  it.each(['', '12', '12345678901', '12 34 56 78 90 12', '١٢٣٤٥٦', 'abc!@#', '\u0000123456'])(
    'refuses the code %j without using an attempt',
    async (code) => {
      const { user } = await t.signUp();
      const pendingToken = await loginPending(t.gql, user);
      await t.gql(REQUEST_OTP, { input: { pendingToken } });
      const res = await t.gql(VERIFY_OTP, { input: { pendingToken, code } });
      expectCleanError(res, 'BAD_USER_INPUT');
      expect(res.errors![0].extensions!.field).toBe('code');
      const ok = await t.gql(VERIFY_OTP, { input: { pendingToken, code: ` ${t.codeFor(user.phoneNumber).replace(/(\d{3})/, '$1 ')} ` } });
      expect(ok.errors).toBeUndefined();
    },
  );
});
