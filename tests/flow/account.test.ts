import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { queryDatabase } from '../support/database';
import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf, type GraphQLResponse } from '../support/graphql-client';
import {
  AUTH_EVENTS,
  CHANGE_PASSWORD,
  DELETE_ACCOUNT,
  LOGIN,
  ME,
  REAUTHENTICATE,
  REFRESH_SESSION,
  REGENERATE_RECOVERY_CODES,
  REGISTER,
  REQUEST_OTP,
  SESSIONS,
  VERIFY_OTP,
} from '../support/operations';
import { type SignedIn, type TestApp, type TestUser, useTestApp } from '../support/test-app';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Strings no password field may turn into a 500 or a change. */
const NASTY_STRINGS = [
  '',
  ' ',
  'a'.repeat(10_000),
  '\u0000',
  'correct horse battery\u0000',
  '\uD800',
  'correct horse battery\uD800',
  '😀🔑',
  "' or 1=1; --",
  '"; drop table app_user; --',
  '\u202Eevil\u202C',
];

/** Inputs GraphQL variable coercion refuses (BAD_USER_INPUT) before any resolver runs. */
const WRONG_TYPES: Array<[string, unknown]> = [
  ['a number', 12345678],
  ['a boolean', true],
  ['null', null],
  ['a list', ['correct horse battery']],
  ['an object', { value: 'correct horse battery' }],
];

function expectCleanError(res: GraphQLResponse, code: string): void {
  expect(res.status).toBeLessThan(500);
  expect(codeOf(res)).toBe(code);
  expect(res.data?.changePassword ?? res.data?.deleteAccount ?? null).toBeNull();
}

/** Helpers bound to one running app. */
function helpers(t: TestApp) {
  const me = (s: { accessToken: string }, headers: Record<string, string> = {}) => t.gql(ME, {}, { ...bearer(s.accessToken), ...headers });
  const refresh = (s: { refreshToken: string }) => t.gql(REFRESH_SESSION, { input: { refreshToken: s.refreshToken } });
  const changePassword = (s: { accessToken: string }, currentPassword: unknown, newPassword: unknown, headers: Record<string, string> = {}) =>
    t.gql(CHANGE_PASSWORD, { input: { currentPassword, newPassword } }, { ...bearer(s.accessToken), ...headers });
  const deleteAccount = (s: { accessToken: string }, password: unknown, headers: Record<string, string> = {}) =>
    t.gql(DELETE_ACCOUNT, { input: { password } }, { ...bearer(s.accessToken), ...headers });
  const login = (email: string, password: string) => t.gql(LOGIN, { input: { email, password } });
  const userId = async (s: SignedIn): Promise<string> => (await me(s)).data!.me.id;

  /** reauthenticate → requestOtp → verifyOtp: the same session, stepped up now. */
  const stepUp = async (s: SignedIn): Promise<SignedIn> => {
    const pending = await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken));
    expect(pending.errors).toBeUndefined();
    const pendingToken = pending.data!.reauthenticate.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(s.user.phoneNumber) } });
    expect(verified.errors).toBeUndefined();
    return { ...verified.data!.verifyOtp, user: s.user };
  };

  /** Rows of a user in every table of theirs (refresh tokens through the sessions given). */
  const rowsOf = async (id: string, sessionIds: string[]) => {
    const count = async (sql: string, param: unknown) => (await queryDatabase<{ n: number }>(t.databaseUrl, sql, [param]))[0].n;
    return {
      app_user: await count('select count(*)::int as n from app_user where id = $1', id),
      auth_session: await count('select count(*)::int as n from auth_session where user_id = $1', id),
      refresh_token: await count('select count(*)::int as n from refresh_token where session_id = any($1::uuid[])', sessionIds),
      otp_challenge: await count('select count(*)::int as n from otp_challenge where user_id = $1', id),
      recovery_code: await count('select count(*)::int as n from recovery_code where user_id = $1', id),
      auth_event: await count('select count(*)::int as n from auth_event where user_id = $1', id),
    };
  };
  const sessionIdsOf = async (id: string) =>
    (await queryDatabase<{ id: string }>(t.databaseUrl, 'select id from auth_session where user_id = $1', [id])).map((r) => r.id);

  return { me, refresh, changePassword, deleteAccount, login, userId, stepUp, rowsOf, sessionIdsOf };
}

describe('changePassword', () => {
  const t = useTestApp();
  const h = helpers(t);

  it('changes the password, ends every other session at once and keeps the current one', async () => {
    const current = await t.signUp();
    const others = [await t.signIn(current.user), await t.signIn(current.user)];
    const stranger = await t.signUp();
    const newPassword = `new secret ${Date.now()}`;

    const res = await h.changePassword(current, current.user.password, newPassword);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ changePassword: true });

    for (const other of others) {
      expect(codeOf(await h.me(other))).toBe('UNAUTHENTICATED');
      expect(codeOf(await h.refresh(other))).toBe('UNAUTHENTICATED');
    }
    expect((await h.me(current)).data?.me.email).toBe(current.user.email);
    const sessions = (await t.gql(SESSIONS, {}, bearer(current.accessToken))).data!.sessions;
    expect(sessions.map((s: { id: string }) => s.id)).toEqual([current.session.id]);
    const refreshed = await h.refresh(current);
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data!.refreshSession.session.id).toBe(current.session.id);

    expect(codeOf(await h.login(current.user.email, current.user.password))).toBe('INVALID_CREDENTIALS');
    const fresh = await t.signIn({ ...current.user, password: newPassword });
    expect((await h.me(fresh)).data?.me.email).toBe(current.user.email);

    // Other users keep their sessions and their password.
    expect((await h.me(stranger)).data?.me.email).toBe(stranger.user.email);
    expect((await h.login(stranger.user.email, stranger.user.password)).data?.login.pendingToken).toBeTruthy();

    // The audit trail says so; no log line carries either password.
    const events = (await t.gql(AUTH_EVENTS, { first: 100 }, bearer(fresh.accessToken))).data!.authEvents.edges.map(
      (e: { node: { type: string; sessionId: string | null } }) => e.node,
    );
    expect(events.filter((e: { type: string }) => e.type === 'PASSWORD_CHANGED')).toEqual([
      expect.objectContaining({ sessionId: current.session.id }),
    ]);
    expect(
      events
        .filter((e: { type: string }) => e.type === 'SESSION_REVOKED')
        .map((e: { sessionId: string }) => e.sessionId)
        .sort(),
    ).toEqual(others.map((o) => o.session.id).sort());
    expect(t.logs.join('\n')).not.toContain(newPassword);
    expect(t.logs.join('\n')).not.toContain(current.user.password);
  });

  it('answers INVALID_CREDENTIALS for a wrong current password, and changes nothing', async () => {
    const current = await t.signUp();
    const other = await t.signIn(current.user);
    const before = await snapshotDatabase(t.databaseUrl);
    for (const wrong of ['Correct horse battery', 'correct horse battery ', 'correct horse batter', 'wrong password']) {
      expectCleanError(await h.changePassword(current, wrong, 'brand new password'), 'INVALID_CREDENTIALS');
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(other)).data?.me).toBeTruthy();
    expect(codeOf(await h.login(current.user.email, 'brand new password'))).toBe('INVALID_CREDENTIALS');
    expect((await h.login(current.user.email, current.user.password)).data?.login.pendingToken).toBeTruthy();
  });

  it.each([
    ['empty', ''],
    ['7 characters', 'short12'],
    ['7 characters and a NUL', 'short12\u0000'],
    ['a NUL inside', 'abcd\u0000efgh'],
    ['only spaces', ' '.repeat(12)],
    ['only tabs and spaces', ' \t \t \t \t '],
    ['73 ASCII bytes', 'a'.repeat(73)],
    ['74 UTF-8 bytes in 37 characters', 'é'.repeat(37)],
    ['76 UTF-8 bytes in 19 emoji', '😀'.repeat(19)],
    ['4 emoji (8 UTF-16 units, 4 characters)', '😀'.repeat(4)],
    ['two emoji', '😀🔑'],
    ['a lone surrogate', '\uD800'],
    ['10,000 characters', 'a'.repeat(10_000)],
  ])('refuses a new password that is %s: BAD_USER_INPUT on newPassword, nothing changed', async (_name, newPassword) => {
    const current = await t.signUp();
    const other = await t.signIn(current.user);
    const before = await snapshotDatabase(t.databaseUrl);
    const res = await h.changePassword(current, current.user.password, newPassword);
    expectCleanError(res, 'BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('newPassword');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(other)).data?.me).toBeTruthy();
    expect((await h.login(current.user.email, current.user.password)).data?.login.pendingToken).toBeTruthy();
  });

  it('accepts new passwords at the limits: 8 characters, 72 bytes in ASCII, accents or emoji', async () => {
    const signedIn = await t.signUp();
    let password = signedIn.user.password;
    for (const next of ['12345678', 'a'.repeat(72), 'é'.repeat(36), '😀'.repeat(18), '😀😀😀😀😀😀😀😀']) {
      const res = await h.changePassword(signedIn, password, next);
      expect(res.errors).toBeUndefined();
      expect(res.data).toEqual({ changePassword: true });
      expect((await h.login(signedIn.user.email, next)).data?.login.pendingToken).toBeTruthy();
      expect(codeOf(await h.login(signedIn.user.email, password))).toBe('INVALID_CREDENTIALS');
      password = next;
    }
  });

  it('normalizes the new password as login does: set decomposed, accepted composed', async () => {
    const signedIn = await t.signUp();
    const res = await h.changePassword(signedIn, signedIn.user.password, 'cafe\u0301 au lait');
    expect(res.data).toEqual({ changePassword: true });
    expect((await h.login(signedIn.user.email, 'caf\u00e9 au lait')).data?.login.pendingToken).toBeTruthy();
    // And the current password is compared the same way.
    expect((await h.changePassword(signedIn, 'caf\u00e9 au lait', 'yet another password')).data).toEqual({ changePassword: true });
  });

  it('needs no step-up: works long after the sign-in, and still ends the other sessions', async () => {
    const current = await t.signUp();
    const other = await t.signIn(current.user);
    t.clock.advance(601);
    // Outside the step-up window (deleteAccount says so), yet changePassword goes through.
    expect(codeOf(await h.deleteAccount(current, current.user.password))).toBe('REAUTHENTICATION_REQUIRED');
    const res = await h.changePassword(current, current.user.password, 'after the window');
    expect(res.data).toEqual({ changePassword: true });
    expect(codeOf(await h.me(other))).toBe('UNAUTHENTICATED');
    expect((await h.me(current)).data?.me).toBeTruthy();
  });

  it.each(NASTY_STRINGS)('answers INVALID_CREDENTIALS for current password %j, never 500, and changes nothing', async (currentPassword) => {
    const current = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    expectCleanError(await h.changePassword(current, currentPassword, 'a perfectly fine password'), 'INVALID_CREDENTIALS');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  it.each(NASTY_STRINGS)('with a wrong current password, new password %j changes nothing and never answers 500', async (newPassword) => {
    const current = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    const res = await h.changePassword(current, 'not the password', newPassword);
    expect(res.status).toBeLessThan(500);
    expect(['INVALID_CREDENTIALS', 'BAD_USER_INPUT']).toContain(codeOf(res));
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  it.each(WRONG_TYPES)('refuses %s for either password with BAD_USER_INPUT, and changes nothing', async (_name, value) => {
    const current = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    expectCleanError(await h.changePassword(current, value, 'a perfectly fine password'), 'BAD_USER_INPUT');
    expectCleanError(await h.changePassword(current, current.user.password, value), 'BAD_USER_INPUT');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  it('refuses a malformed input object with BAD_USER_INPUT, and changes nothing', async () => {
    const current = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    const { password } = current.user;
    for (const input of [
      undefined,
      null,
      'correct horse battery',
      [],
      {},
      { currentPassword: password },
      { newPassword: 'a perfectly fine password' },
      { currentPassword: password, newPassword: 'a perfectly fine password', extra: 1 },
    ]) {
      expectCleanError(await t.gql(CHANGE_PASSWORD, { input }, bearer(current.accessToken)), 'BAD_USER_INPUT');
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  it('refuses without a live bearer token (UNAUTHENTICATED), and changes nothing', async () => {
    const current = await t.signUp();
    const ended = await t.signIn(current.user);
    await h.changePassword(current, current.user.password, 'ends the other one');
    const user = { ...current.user, password: 'ends the other one' };
    const before = await snapshotDatabase(t.databaseUrl);
    const input = { currentPassword: user.password, newPassword: 'never applied' };
    expectCleanError(await t.gql(CHANGE_PASSWORD, { input }), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(CHANGE_PASSWORD, { input }, bearer('nope')), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(CHANGE_PASSWORD, { input }, bearer(current.refreshToken)), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(CHANGE_PASSWORD, { input }, bearer(ended.accessToken)), 'UNAUTHENTICATED');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.login(user.email, user.password)).data?.login.pendingToken).toBeTruthy();
  });
});

describe('deleteAccount', () => {
  const t = useTestApp();
  const h = helpers(t);

  it('needs a second factor within the step-up window: REAUTHENTICATION_REQUIRED before the password is even checked', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(601);
    const before = await snapshotDatabase(t.databaseUrl);
    for (const password of [signedIn.user.password, 'wrong password', '']) {
      expectCleanError(await h.deleteAccount(signedIn, password), 'REAUTHENTICATION_REQUIRED');
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(signedIn)).data?.me.email).toBe(signedIn.user.email);
  });

  it('accepts a sign-in 599 s old, and a refresh does not count as a second factor', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(599);
    // Within the window: the password is what is checked.
    expectCleanError(await h.deleteAccount(signedIn, 'wrong password'), 'INVALID_CREDENTIALS');
    const refreshed = { ...(await h.refresh(signedIn)).data!.refreshSession, user: signedIn.user } as SignedIn;
    t.clock.advance(2);
    expectCleanError(await h.deleteAccount(refreshed, signedIn.user.password), 'REAUTHENTICATION_REQUIRED');
    expect((await h.me(refreshed)).data?.me).toBeTruthy();
  });

  it('deletes after a step-up (reauthenticate → requestOtp → verifyOtp) in the same session', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(1000);
    // The access token (15 min) has expired: refresh first, as a client would.
    expect(codeOf(await h.me(signedIn))).toBe('UNAUTHENTICATED');
    const live = { ...(await h.refresh(signedIn)).data!.refreshSession, user: signedIn.user } as SignedIn;
    expectCleanError(await h.deleteAccount(live, signedIn.user.password), 'REAUTHENTICATION_REQUIRED');

    const stepped = await h.stepUp(live);
    expect(stepped.session.id).toBe(signedIn.session.id);
    expect(decodeJwt(stepped.accessToken).auth_time).toBe(Math.floor(t.clock.now().getTime() / 1000));
    expect(Date.parse(stepped.session.authenticatedAt)).toBe(t.clock.now().getTime());
    expect(stepped.refreshToken).not.toBe(live.refreshToken);

    const res = await h.deleteAccount(stepped, signedIn.user.password);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ deleteAccount: true });
    expect(codeOf(await h.me(stepped))).toBe('UNAUTHENTICATED');
    expect(codeOf(await h.refresh(stepped))).toBe('UNAUTHENTICATED');
  });

  it('answers INVALID_CREDENTIALS for a wrong password within the window, and deletes nothing', async () => {
    const signedIn = await t.signUp();
    const other = await t.signIn(signedIn.user);
    const before = await snapshotDatabase(t.databaseUrl);
    for (const wrong of ['Correct horse battery', 'correct horse battery ', 'wrong password']) {
      expectCleanError(await h.deleteAccount(signedIn, wrong), 'INVALID_CREDENTIALS');
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(signedIn)).data?.me).toBeTruthy();
    expect((await h.me(other)).data?.me).toBeTruthy();
  });

  it('removes the user and every row of theirs, ends every session at once, and leaves other users alone', async () => {
    const victim = await t.signUp();
    const otherSession = await t.signIn(victim.user);
    expect((await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(victim.accessToken))).data?.regenerateRecoveryCodes.codes).toHaveLength(10);
    expect((await t.gql(REAUTHENTICATE, {}, bearer(otherSession.accessToken))).data?.reauthenticate.pendingToken).toBeTruthy();
    const pendingLogin = (await h.login(victim.user.email, victim.user.password)).data!.login.pendingToken;
    const stranger = await t.signUp();
    expect((await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(stranger.accessToken))).data?.regenerateRecoveryCodes.codes).toHaveLength(10);

    const victimId = await h.userId(victim);
    const strangerId = await h.userId(stranger);
    const victimSessions = await h.sessionIdsOf(victimId);
    const strangerSessions = await h.sessionIdsOf(strangerId);
    const victimRows = await h.rowsOf(victimId, victimSessions);
    // Something of each kind exists, so that "none left" below means something.
    for (const [table, n] of Object.entries(victimRows)) expect(n, table).toBeGreaterThan(0);
    const strangerRowsBefore = await h.rowsOf(strangerId, strangerSessions);

    const res = await h.deleteAccount(victim, victim.user.password);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ deleteAccount: true });

    expect(await h.rowsOf(victimId, victimSessions)).toEqual({
      app_user: 0,
      auth_session: 0,
      refresh_token: 0,
      otp_challenge: 0,
      recovery_code: 0,
      auth_event: 0,
    });
    const hashes = [victim.refreshToken, otherSession.refreshToken].map((token) => createHash('sha256').update(token).digest('base64url'));
    expect(await queryDatabase(t.databaseUrl, 'select 1 from refresh_token where token_hash = any($1)', [hashes])).toHaveLength(0);
    for (const s of [victim, otherSession]) {
      expect(codeOf(await h.me(s))).toBe('UNAUTHENTICATED');
      expect(codeOf(await h.refresh(s))).toBe('UNAUTHENTICATED');
      expect(codeOf(await h.deleteAccount(s, victim.user.password))).toBe('UNAUTHENTICATED');
      expect(codeOf(await h.changePassword(s, victim.user.password, 'a perfectly fine password'))).toBe('UNAUTHENTICATED');
    }
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: pendingLogin } }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await h.login(victim.user.email, victim.user.password))).toBe('INVALID_CREDENTIALS');

    expect(await h.rowsOf(strangerId, strangerSessions)).toEqual(strangerRowsBefore);
    expect((await h.me(stranger)).data?.me.id).toBe(strangerId);
    expect((await h.refresh(stranger)).errors).toBeUndefined();
  });

  it('lets the same email and phone number register again, as a new user with a full sign-in', async () => {
    const first = await t.signUp();
    const firstId = await h.userId(first);
    expect((await h.deleteAccount(first, first.user.password)).data).toEqual({ deleteAccount: true });

    const again: TestUser = { ...first.user, password: 'a different password' };
    const registered = await t.gql(REGISTER, { input: again });
    expect(registered.errors).toBeUndefined();
    expect(registered.data?.register.pendingToken).toBeTruthy();
    const pendingToken = registered.data!.register.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(again.phoneNumber) } });
    expect(verified.errors).toBeUndefined();
    const reborn = verified.data!.verifyOtp;
    expect(reborn.user).toMatchObject({ email: first.user.email, phoneNumber: first.user.phoneNumber, phoneVerified: true });
    expect(reborn.user.id).not.toBe(firstId);

    // And a later sign-in works with the new password only.
    const later = await t.signIn(again);
    expect((await h.me(later)).data?.me.id).toBe(reborn.user.id);
    expect(codeOf(await h.login(first.user.email, first.user.password))).toBe('INVALID_CREDENTIALS');
  });

  it.each(NASTY_STRINGS)('answers INVALID_CREDENTIALS for password %j within the window, never 500, and deletes nothing', async (password) => {
    const signedIn = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    expectCleanError(await h.deleteAccount(signedIn, password), 'INVALID_CREDENTIALS');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(signedIn)).data?.me).toBeTruthy();
  });

  it.each(WRONG_TYPES)('refuses %s as the password with BAD_USER_INPUT, and deletes nothing', async (_name, value) => {
    const signedIn = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    expectCleanError(await h.deleteAccount(signedIn, value), 'BAD_USER_INPUT');
    for (const input of [undefined, null, signedIn.user.password, {}, { password: signedIn.user.password, extra: 1 }]) {
      expectCleanError(await t.gql(DELETE_ACCOUNT, { input }, bearer(signedIn.accessToken)), 'BAD_USER_INPUT');
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(signedIn)).data?.me).toBeTruthy();
  });

  it('refuses without a live bearer token (UNAUTHENTICATED), and deletes nothing', async () => {
    const signedIn = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    const input = { password: signedIn.user.password };
    expectCleanError(await t.gql(DELETE_ACCOUNT, { input }), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(DELETE_ACCOUNT, { input }, bearer('nope')), 'UNAUTHENTICATED');
    expectCleanError(await t.gql(DELETE_ACCOUNT, { input }, bearer(signedIn.refreshToken)), 'UNAUTHENTICATED');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(signedIn)).data?.me).toBeTruthy();
  });
});

describe('password checks of signed-in users are limited per user', () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_EMAIL: '3/900' });
  const h = helpers(t);

  it('refuses the fourth password check in the window (logins, changePassword and deleteAccount together), for every session of the user only', async () => {
    const current = await t.signUp();
    const other = await t.signIn(current.user); // a login: the first check of the window
    const stranger = await t.signUp();
    const answers = [
      codeOf(await h.changePassword(current, 'wrong password', 'a perfectly fine password')),
      codeOf(await h.deleteAccount(other, 'wrong password')),
    ];
    expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS']);

    const before = await snapshotDatabase(t.databaseUrl);
    // Now even the right password is refused, from any session of the user, for either operation.
    for (const res of [
      await h.changePassword(current, current.user.password, 'a perfectly fine password'),
      await h.changePassword(other, current.user.password, 'a perfectly fine password'),
      await h.deleteAccount(current, current.user.password),
    ]) {
      expectCleanError(res, 'RATE_LIMITED');
      const retryAfter = res.errors![0].extensions!.retryAfterSeconds;
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(900);
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await h.me(other)).data?.me).toBeTruthy();

    // Another user is not affected.
    expect((await h.changePassword(stranger, stranger.user.password, 'a perfectly fine password')).data).toEqual({ changePassword: true });
  });
});

describe('account changes are limited per client address', () => {
  const t = useTestApp({ RATE_LIMIT_ACCOUNT_CHANGES_PER_IP: '3/60', TRUST_PROXY: 'loopback' });
  const h = helpers(t);

  it('refuses the fourth account change from one address, whichever the operations, with retryAfterSeconds', async () => {
    const signedIn = await t.signUp();
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const answers = [
      codeOf(await h.changePassword(signedIn, 'wrong password', 'a perfectly fine password', from('192.0.2.30'))),
      codeOf(await h.deleteAccount(signedIn, 'wrong password', from('192.0.2.30'))),
      codeOf(await t.gql(REAUTHENTICATE, {}, { ...bearer(signedIn.accessToken), ...from('192.0.2.30') })) ?? 'ok',
    ];
    expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'ok']);

    const before = await snapshotDatabase(t.databaseUrl);
    for (const res of [
      await h.changePassword(signedIn, signedIn.user.password, 'a perfectly fine password', from('192.0.2.30')),
      await h.deleteAccount(signedIn, signedIn.user.password, from('192.0.2.30')),
      await t.gql(REGENERATE_RECOVERY_CODES, {}, { ...bearer(signedIn.accessToken), ...from('192.0.2.30') }),
    ]) {
      expect(codeOf(res)).toBe('RATE_LIMITED');
      expect(res.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);

    // Another address has its own allowance.
    expect((await h.changePassword(signedIn, signedIn.user.password, 'a perfectly fine password', from('192.0.2.31'))).data).toEqual({
      changePassword: true,
    });
  });
});
