import { randomBytes, randomUUID } from 'node:crypto';
import { queryDatabase } from '../support/database';
import { describe, expect, it } from 'vitest';
import { codeOf, type GraphQLResponse } from '../support/graphql-client';
import {
  AUTH_EVENTS,
  CHANGE_PASSWORD,
  LOGIN,
  LOGOUT,
  LOGOUT_EVERYWHERE,
  ME,
  REAUTHENTICATE,
  REFRESH_SESSION,
  REGENERATE_RECOVERY_CODES,
  REGISTER,
  REQUEST_OTP,
  REVOKE_SESSION,
  START_PHONE_NUMBER_CHANGE,
  VERIFY_OTP,
  VERIFY_RECOVERY_CODE,
} from '../support/operations';
import { loginPending, newUser, type SignedIn, type TestApp, type TestUser, useTestApp } from '../support/test-app';

interface AuthEventNode {
  id: string;
  type: string;
  at: string;
  ipAddress: string | null;
  userAgent: string | null;
  sessionId: string | null;
  detail: string | null;
}

interface AuthEventPage {
  edges: Array<{ cursor: string; node: AuthEventNode }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A code that is never right: the emulator's codes are 6 digits. */
const WRONG_CODE = '7319046';
const AUDIT_FAILURE = 'audit event could not be written; the operation itself went on';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** What the service shows of a +44 7400 xxxxxx number: the country code and the last two digits. */
const masked = (e164: string) => `+44 ${'*'.repeat(8)}${e164.slice(-2)}`;

async function page(t: TestApp, accessToken: string, variables: { first?: number; after?: string } = {}): Promise<AuthEventPage> {
  const res = await t.gql(AUTH_EVENTS, variables, bearer(accessToken));
  if (!res.data?.authEvents) throw new Error(`authEvents failed: ${JSON.stringify(res.errors)}`);
  return res.data.authEvents as AuthEventPage;
}

/** The whole trail (up to 100), newest first. */
async function trail(t: TestApp, accessToken: string): Promise<AuthEventNode[]> {
  return (await page(t, accessToken, { first: 100 })).edges.map((edge) => edge.node);
}

/** LOGIN_FAILED is written without being awaited: poll briefly until the trail shows what is expected. */
async function trailUntil(t: TestApp, accessToken: string, done: (events: AuthEventNode[]) => boolean): Promise<AuthEventNode[]> {
  let events: AuthEventNode[] = [];
  for (let i = 0; i < 50; i++) {
    events = await trail(t, accessToken);
    if (done(events)) return events;
    await sleep(20);
  }
  return events;
}

async function pollCount(databaseUrl: string, expected: number): Promise<number> {
  let count = -1;
  for (let i = 0; i < 50; i++) {
    count = Number((await queryDatabase<{ n: string }>(databaseUrl, 'select count(*) as n from auth_event'))[0].n);
    if (count >= expected) return count;
    await sleep(20);
  }
  return count;
}

/** The service's own log lines: the emulator's lines show codes on purpose (that is how a developer receives them). */
function serviceLog(t: TestApp): string {
  return t.logs.filter((line) => !String(JSON.parse(line).msg ?? '').startsWith('Sinch emulator')).join('\n');
}

/** A numeric secret, not merely the same digits inside a longer number (a timestamp, say). */
const asNumber = (digits: string) => new RegExp(`(?<!\\d)${digits}(?!\\d)`);

function expectNoSecrets(text: string, secrets: string[], numericSecrets: string[]): void {
  for (const secret of secrets) expect(text, `a secret of ${secret.length} characters`).not.toContain(secret);
  for (const digits of numericSecrets) expect(text).not.toMatch(asNumber(digits));
}

function expectBadInput(res: GraphQLResponse, field: string): void {
  expect(res.status).toBeLessThan(500);
  expect(codeOf(res)).toBe('BAD_USER_INPUT');
  expect(res.errors![0].extensions!.field).toBe(field);
  expect(res.data?.authEvents ?? null).toBeNull();
}

describe('the audit trail (authEvents)', () => {
  const t = useTestApp({ TRUST_PROXY: 'loopback' });
  const from = (step: number) => ({ 'user-agent': `AuditDay/${step} (X11)`, 'x-forwarded-for': `198.51.100.${step}` });

  it('records a scripted day event by event: types, order, sessions, addresses, user agents, times and details', async () => {
    type Expected = Pick<AuthEventNode, 'type' | 'sessionId' | 'ipAddress' | 'userAgent'> & { at: number; detail?: string | null };
    const expected: Expected[] = [];
    const happened = (step: number, type: string, sessionId: string | null, detail?: string | null) =>
      expected.push({
        type,
        sessionId,
        ipAddress: `198.51.100.${step}`,
        userAgent: `AuditDay/${step} (X11)`,
        at: t.clock.now().getTime(),
        ...(detail === undefined ? {} : { detail }),
      });

    // 1. Register and verify the number: session 1.
    const s1 = await t.signUp({}, from(1));
    const user = s1.user;
    happened(1, 'REGISTERED', null, null);
    happened(1, 'OTP_SENT', null, `SMS to ${masked(user.phoneNumber)}`);
    happened(1, 'OTP_VERIFIED', s1.session.id, 'SMS');

    // 2. A wrong password for this known email.
    t.clock.advance(60);
    const failed = await t.gql(LOGIN, { input: { email: user.email, password: 'not the password at all' } }, from(2));
    expect(codeOf(failed)).toBe('INVALID_CREDENTIALS');
    happened(2, 'LOGIN_FAILED', null);
    const afterFailure = await trailUntil(t, s1.accessToken, (events) => events[0]?.type === 'LOGIN_FAILED');
    expect(afterFailure.map((e) => e.type)).toEqual(['LOGIN_FAILED', 'OTP_VERIFIED', 'OTP_SENT', 'REGISTERED']);

    // 3. Login, a wrong code, the right code: session 2.
    t.clock.advance(60);
    const pending3 = (await t.gql(LOGIN, { input: { email: user.email, password: user.password } }, from(3))).data!.login.pendingToken;
    happened(3, 'LOGIN_SUCCEEDED', null);
    t.clock.advance(5);
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: pending3 } }, from(3))).errors).toBeUndefined();
    happened(3, 'OTP_SENT', null, `SMS to ${masked(user.phoneNumber)}`);
    t.clock.advance(5);
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: pending3, code: WRONG_CODE } }, from(3)))).toBe('OTP_INVALID');
    happened(3, 'OTP_FAILED', null, 'wrong SMS code');
    t.clock.advance(5);
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken: pending3, code: t.codeFor(user.phoneNumber) } }, from(3));
    const s2: SignedIn = { ...verified.data!.verifyOtp, user };
    happened(3, 'OTP_VERIFIED', s2.session.id, 'SMS');

    // 4. A refresh of session 2.
    t.clock.advance(60);
    const refreshed = await t.gql(REFRESH_SESSION, { input: { refreshToken: s2.refreshToken } }, from(4));
    const s2b = refreshed.data!.refreshSession;
    expect(s2b.session.id).toBe(s2.session.id);
    happened(4, 'SESSION_REFRESHED', s2.session.id);

    // 5. New recovery codes (the sign-in a few minutes ago is a recent second factor).
    t.clock.advance(60);
    const regenerated = await t.gql(REGENERATE_RECOVERY_CODES, {}, { ...bearer(s2b.accessToken), ...from(5) });
    expect(regenerated.errors).toBeUndefined();
    const codes: string[] = regenerated.data!.regenerateRecoveryCodes.codes;
    happened(5, 'RECOVERY_CODES_REGENERATED', s2.session.id);

    // 6. Sign in with a recovery code instead of an SMS code: session 3.
    t.clock.advance(60);
    const pending6 = (await t.gql(LOGIN, { input: { email: user.email, password: user.password } }, from(6))).data!.login.pendingToken;
    happened(6, 'LOGIN_SUCCEEDED', null);
    t.clock.advance(5);
    const recovered = await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: pending6, recoveryCode: codes[0] } }, from(6));
    expect(recovered.errors).toBeUndefined();
    const s3: SignedIn = { ...recovered.data!.verifyRecoveryCode, user };
    happened(6, 'RECOVERY_CODE_USED', s3.session.id, '9 left');

    // 7. Session 3 revokes session 1.
    t.clock.advance(60);
    expect(
      (await t.gql(REVOKE_SESSION, { input: { sessionId: s1.session.id } }, { ...bearer(s3.accessToken), ...from(7) })).data?.revokeSession,
    ).toBe(true);
    happened(7, 'SESSION_REVOKED', s1.session.id);

    // 8. Session 3 logs out.
    t.clock.advance(60);
    expect((await t.gql(LOGOUT, {}, { ...bearer(s3.accessToken), ...from(8) })).data?.logout).toBe(true);
    happened(8, 'LOGGED_OUT', s3.session.id);

    const events = await trail(t, s2b.accessToken);
    const newestFirst = [...expected].reverse();
    expect(events.map((e) => e.type)).toEqual(newestFirst.map((e) => e.type));
    // Every field compared; `detail` where the scenario says what it is.
    const actual = events.map(({ type, sessionId, ipAddress, userAgent, at, detail }, i) => ({
      type,
      sessionId,
      ipAddress,
      userAgent,
      at: Date.parse(at),
      ...(newestFirst[i]?.detail === undefined ? {} : { detail }),
    }));
    expect(actual).toEqual(newestFirst);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it('keeps every secret out of the trail, the audit table and the logs: passwords, codes, tokens, full numbers', async () => {
    const user: TestUser = { ...newUser(), password: 'tr0ub4dor & 3 audit secret' };
    const newPassword = 'another long secret phrase';
    const newNumber = newUser().phoneNumber;
    const secrets: string[] = [user.password, newPassword];
    const codes: string[] = [WRONG_CODE];
    const keep = (...values: string[]) => secrets.push(...values);

    // Sign-up, by hand so that the pending token is known.
    const registered = await t.gql(REGISTER, { input: user });
    const pending1 = registered.data!.register.pendingToken;
    await t.gql(REQUEST_OTP, { input: { pendingToken: pending1 } });
    codes.push(t.codeFor(user.phoneNumber));
    const s1 = (await t.gql(VERIFY_OTP, { input: { pendingToken: pending1, code: codes.at(-1) } })).data!.verifyOtp;
    keep(pending1, s1.accessToken, s1.refreshToken);

    // A wrong password, a wrong code, a wrong recovery code, a refresh.
    await t.gql(LOGIN, { input: { email: user.email, password: `${user.password}!` } });
    keep(`${user.password}!`);
    const pending2 = await loginPending(t.gql, user);
    keep(pending2);
    await t.gql(REQUEST_OTP, { input: { pendingToken: pending2 } });
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: pending2, code: WRONG_CODE } }))).toBe('OTP_INVALID');
    const wrongRecovery = '7K3M-Q9XD-2HFN-8WTB';
    keep(wrongRecovery, wrongRecovery.replaceAll('-', ''));
    expect(codeOf(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: pending2, recoveryCode: wrongRecovery } }))).toBe('OTP_INVALID');
    codes.push(t.codeFor(user.phoneNumber));
    const s2 = (await t.gql(VERIFY_OTP, { input: { pendingToken: pending2, code: codes.at(-1) } })).data!.verifyOtp;
    keep(s2.accessToken, s2.refreshToken);
    const s2b = (await t.gql(REFRESH_SESSION, { input: { refreshToken: s2.refreshToken } })).data!.refreshSession;
    keep(s2b.accessToken, s2b.refreshToken);

    // Recovery codes: made, one used to sign in.
    const recovery: string[] = (await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(s2b.accessToken))).data!.regenerateRecoveryCodes.codes;
    keep(...recovery, ...recovery.map((c) => c.replaceAll('-', '')));
    const pending3 = await loginPending(t.gql, user);
    keep(pending3);
    const s3 = (await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: pending3, recoveryCode: recovery[0] } })).data!.verifyRecoveryCode;
    keep(s3.accessToken, s3.refreshToken);

    // A step-up, a phone change, a password change.
    const stepUp = (await t.gql(REAUTHENTICATE, {}, bearer(s3.accessToken))).data!.reauthenticate.pendingToken;
    keep(stepUp);
    await t.gql(REQUEST_OTP, { input: { pendingToken: stepUp } });
    codes.push(t.codeFor(user.phoneNumber));
    const stepped = (await t.gql(VERIFY_OTP, { input: { pendingToken: stepUp, code: codes.at(-1) } })).data!.verifyOtp;
    keep(stepped.accessToken, stepped.refreshToken);
    const change = await t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber: newNumber } }, bearer(stepped.accessToken));
    expect(change.errors).toBeUndefined();
    const changePending = change.data!.startPhoneNumberChange.pendingToken;
    keep(changePending);
    await t.gql(REQUEST_OTP, { input: { pendingToken: changePending } });
    codes.push(t.codeFor(newNumber));
    const changed = await t.gql(VERIFY_OTP, { input: { pendingToken: changePending, code: codes.at(-1) } });
    expect(changed.data?.verifyOtp.user.phoneNumber).toBe(newNumber);
    keep(changed.data!.verifyOtp.accessToken, changed.data!.verifyOtp.refreshToken);
    const current = changed.data!.verifyOtp.accessToken;
    expect((await t.gql(CHANGE_PASSWORD, { input: { currentPassword: user.password, newPassword } }, bearer(current))).data?.changePassword).toBe(
      true,
    );

    const numbers = [user.phoneNumber, newNumber].flatMap((n) => [n.slice(1), n.slice(3)]);
    const events = await trailUntil(t, current, (list) => list.some((e) => e.type === 'LOGIN_FAILED'));
    const types = new Set(events.map((e) => e.type));
    for (const type of ['REGISTERED', 'LOGIN_FAILED', 'OTP_SENT', 'OTP_FAILED', 'OTP_VERIFIED', 'RECOVERY_CODE_USED', 'STEP_UP_VERIFIED']) {
      expect(types).toContain(type);
    }
    expect(types).toContain('PHONE_NUMBER_CHANGED');
    expect(types).toContain('PASSWORD_CHANGED');
    expectNoSecrets(JSON.stringify(events), secrets, [...codes, ...numbers]);
    // The detail names numbers masked only.
    const numberChange = events.find((e) => e.type === 'PHONE_NUMBER_CHANGED')!;
    expect(numberChange.detail).toContain(masked(newNumber));

    const userId = changed.data!.verifyOtp.user.id;
    const rows = await queryDatabase<{ dump: string }>(
      t.databaseUrl,
      "select string_agg(e::text, E'\\n') as dump from auth_event e where user_id = $1",
      [userId],
    );
    expectNoSecrets(rows[0].dump, secrets, [...codes, ...numbers]);
    expectNoSecrets(serviceLog(t), secrets, [...codes, ...numbers]);
  });

  it('pages with first/after: newest first, no duplicates or gaps, stable while new events arrive, the same as first: 100', async () => {
    const s = await t.signUp({}, { 'user-agent': 'pager/signup' });
    let token = s.refreshToken;
    const refreshAs = async (userAgent: string) => {
      const res = await t.gql(REFRESH_SESSION, { input: { refreshToken: token } }, { 'user-agent': userAgent });
      token = res.data!.refreshSession.refreshToken;
    };
    // The clock stands still: every event has the same time, so only insertion order can order them.
    for (let i = 0; i < 12; i++) await refreshAs(`pager/r${i}`);
    const label = (e: AuthEventNode) => `${e.type}:${e.userAgent}`;
    const oldestFirst = ['REGISTERED:pager/signup', 'OTP_SENT:pager/signup', 'OTP_VERIFIED:pager/signup'];
    for (let i = 0; i < 12; i++) oldestFirst.push(`SESSION_REFRESHED:pager/r${i}`);

    const all = await page(t, s.accessToken, { first: 100 });
    expect(all.pageInfo).toEqual({ hasNextPage: false, endCursor: all.edges.at(-1)!.cursor });
    expect(all.edges.map((e) => label(e.node))).toEqual([...oldestFirst].reverse());

    // The simplest case first: after the newest event come the next ones, not the newest again.
    const afterNewest = await page(t, s.accessToken, { first: 3, after: all.edges[0].cursor });
    expect(afterNewest.edges.map((e) => label(e.node))).toEqual(all.edges.slice(1, 4).map((e) => label(e.node)));

    // 15 events by 3: five full pages, the last one saying there is no more.
    const seen: AuthEventPage['edges'] = [];
    const pages: Array<{ size: number; hasNextPage: boolean }> = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const p = await page(t, s.accessToken, { first: 3, ...(after ? { after } : {}) });
      pages.push({ size: p.edges.length, hasNextPage: p.pageInfo.hasNextPage });
      if (p.edges.length > 0) expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)!.cursor);
      seen.push(...p.edges);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor!;
    }
    expect(pages).toEqual(Array(5).fill({ size: 3, hasNextPage: true }).fill({ size: 3, hasNextPage: false }, 4));
    expect(seen.map((e) => e.node.id)).toEqual(all.edges.map((e) => e.node.id));
    expect(seen.map((e) => e.cursor)).toEqual(all.edges.map((e) => e.cursor));
    expect(new Set(seen.map((e) => e.node.id)).size).toBe(15);

    // After the last event: an empty page.
    const beyond = await page(t, s.accessToken, { first: 3, after: all.pageInfo.endCursor! });
    expect(beyond).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });

    // New events while paging: they come on top, the pages already begun neither repeat nor skip.
    const first2 = await page(t, s.accessToken, { first: 2 });
    await refreshAs('pager/late0');
    await refreshAs('pager/late1');
    const rest = await page(t, s.accessToken, { first: 100, after: first2.pageInfo.endCursor! });
    expect([...first2.edges, ...rest.edges].map((e) => e.node.id)).toEqual(all.edges.map((e) => e.node.id));

    // 17 events now, one page of 3 past the first 15: a short last page.
    const top = await page(t, s.accessToken, { first: 15 });
    expect(top.pageInfo.hasNextPage).toBe(true);
    const tail = await page(t, s.accessToken, { first: 3, after: top.pageInfo.endCursor! });
    expect(tail.edges.map((e) => label(e.node))).toEqual(['OTP_SENT:pager/signup', 'REGISTERED:pager/signup']);
    expect(tail.pageInfo.hasNextPage).toBe(false);
    expect(top.edges.slice(0, 2).map((e) => label(e.node))).toEqual(['SESSION_REFRESHED:pager/late1', 'SESSION_REFRESHED:pager/late0']);

    // Without first: 20 by default.
    for (let i = 0; i < 5; i++) await refreshAs(`pager/more${i}`);
    const byDefault = (await t.gql(AUTH_EVENTS, {}, bearer(s.accessToken))).data!.authEvents as AuthEventPage;
    expect(byDefault.edges).toHaveLength(20);
    expect(byDefault.pageInfo.hasNextPage).toBe(true);
    expect(byDefault.edges[0].node.userAgent).toBe('pager/more4');
  });

  it('refuses first outside 1..100 as BAD_USER_INPUT (field first), never 500', async () => {
    const alice = await t.signUp();
    for (const first of [0, -1, 101, 1000]) {
      expectBadInput(await t.gql(AUTH_EVENTS, { first }, bearer(alice.accessToken)), 'first');
    }
    expect((await page(t, alice.accessToken, { first: 1 })).edges).toHaveLength(1);
    expect((await page(t, alice.accessToken, { first: 100 })).edges).toHaveLength(3);
  });

  // Regression (attack review): graphql-armor's cost rule multiplied inline `first:` literals only
  // (by any value), so `first: 78` written inline was refused for its cost, `first: 1000` inline
  // answered GRAPHQL_VALIDATION_FAILED, and the same pages as variables passed at any cost.
  it('prices a page the same inline and as a variable: the contract’s pages pass, other sizes are BAD_USER_INPUT', async () => {
    const alice = await t.signUp();
    const full = 'edges { cursor node { id type at ipAddress userAgent sessionId detail } } pageInfo { hasNextPage endCursor }';
    const inline = (first: number) => t.gql(`{ authEvents(first: ${first}) { ${full} } }`, {}, bearer(alice.accessToken));
    for (const first of [1, 30, 78, 100]) {
      const res = await inline(first);
      expect(res.errors).toBeUndefined();
      expect(res.data!.authEvents.edges).toHaveLength(Math.min(first, 3));
    }
    for (const first of [0, -1, 101, 1000, 2147483647]) expectBadInput(await inline(first), 'first');
  });

  it('refuses two full pages in one operation for their cost (GRAPHQL_MAX_COST), inline and as variables alike', async () => {
    const alice = await t.signUp();
    const full = 'edges { cursor node { id type at ipAddress userAgent sessionId detail } } pageInfo { hasNextPage endCursor }';
    const twice = [
      t.gql(`{ a: authEvents(first: 100) { ${full} } b: authEvents(first: 100) { ${full} } }`, {}, bearer(alice.accessToken)),
      t.gql(`query($n: Int) { a: authEvents(first: $n) { ${full} } b: authEvents(first: $n) { ${full} } }`, { n: 100 }, bearer(alice.accessToken)),
    ];
    for (const res of await Promise.all(twice)) {
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors![0].message).toMatch(/cost \(\d+\) is over the limit of 2000/);
    }
    const small = await t.gql(
      `query($n: Int) { a: authEvents(first: $n) { ${full} } b: authEvents(first: $n) { ${full} } }`,
      { n: 20 },
      bearer(alice.accessToken),
    );
    expect(small.errors).toBeUndefined();
  });

  // Regression (attack review, 2026-12-04): a document whose cost was cached because no priced
  // argument took a variable was run again with `@skip(if: $s)` false, and its ten full pages
  // (13,010 points) passed at the cost of one (1,301).
  it('prices each request again when a directive takes a variable: @skip/@include cannot carry a cached cost past the limit', async () => {
    const alice = await t.signUp();
    const full = 'edges { cursor node { id type at ipAddress userAgent sessionId detail } } pageInfo { hasNextPage endCursor }';
    const pages = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => `p${from + i}: authEvents(first: 100) { ${full} }`).join(' ');
    const documents = [
      `query($s: Boolean!) { ${pages(0, 1)} ... @skip(if: $s) { ${pages(1, 3)} } }`,
      `query($s: Boolean!) { ${pages(0, 1)} me { id } ...Rest @skip(if: $s) } fragment Rest on Query { ${pages(1, 3)} }`,
      `query($s: Boolean!) { ${pages(0, 1)} ... @include(if: $s) { ${pages(1, 3)} } }`,
    ];
    for (const [i, query] of documents.entries()) {
      const [cheap, dear] = i === 2 ? [false, true] : [true, false];
      const first = await t.gql(query, { s: cheap }, bearer(alice.accessToken));
      expect(first.errors, query).toBeUndefined();
      const second = await t.gql(query, { s: dear }, bearer(alice.accessToken));
      expect(second.status, query).toBe(400);
      expect(codeOf(second)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(second.errors![0].message).toMatch(/cost \(\d+\) is over the limit of 2000/);
      expect(second.data, query).toBeUndefined();
    }
  });

  it('refuses cursors that are not ours, another user’s included, as BAD_USER_INPUT (field after), never 500', async () => {
    const alice = await t.signUp();
    const bob = await t.signUp();
    const bobs = await page(t, bob.accessToken, { first: 1 });
    const own = await page(t, alice.accessToken, { first: 1 });
    const cursors = [
      'garbage',
      '',
      ' ',
      Buffer.from(randomBytes(24).toString('hex')).toString('base64url'),
      Buffer.from('some other text entirely').toString('base64url'),
      Buffer.from(`ae1|${randomUUID()}`).toString('base64url'),
      Buffer.from('ae1|not-a-uuid').toString('base64url'),
      Buffer.from(`ae1|${own.edges[0].node.id}`).toString('base64'), // padded, not base64url
      `${own.edges[0].cursor}x`,
      "' or 1=1 --",
      'A'.repeat(10_000),
      '\u0000',
      bobs.edges[0].cursor,
    ];
    for (const after of cursors) {
      const res = await t.gql(AUTH_EVENTS, { first: 5, after }, bearer(alice.accessToken));
      expect(res.status, JSON.stringify(after).slice(0, 40)).toBeLessThan(500);
      expectBadInput(res, 'after');
    }
    // The refusals are not blanket: each user's own cursor is accepted.
    expect((await t.gql(AUTH_EVENTS, { first: 5, after: own.edges[0].cursor }, bearer(alice.accessToken))).errors).toBeUndefined();
    expect((await t.gql(AUTH_EVENTS, { first: 5, after: bobs.edges[0].cursor }, bearer(bob.accessToken))).errors).toBeUndefined();
  });

  it('shows each user their own events only, and only with a live bearer token', async () => {
    const alice = await t.signUp();
    const bob = await t.signUp();
    await t.gql(LOGIN, { input: { email: bob.user.email, password: 'wrong password here' } });
    const aliceEvents = await trail(t, alice.accessToken);
    const bobEvents = await trailUntil(t, bob.accessToken, (list) => list[0]?.type === 'LOGIN_FAILED');
    expect(aliceEvents.map((e) => [e.type, e.sessionId])).toEqual([
      ['OTP_VERIFIED', alice.session.id],
      ['OTP_SENT', null],
      ['REGISTERED', null],
    ]);
    expect(bobEvents.map((e) => [e.type, e.sessionId])).toEqual([
      ['LOGIN_FAILED', null],
      ['OTP_VERIFIED', bob.session.id],
      ['OTP_SENT', null],
      ['REGISTERED', null],
    ]);
    const aliceIds = new Set(aliceEvents.map((e) => e.id));
    expect(bobEvents.filter((e) => aliceIds.has(e.id))).toEqual([]);

    expect(codeOf(await t.gql(AUTH_EVENTS, { first: 5 }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(AUTH_EVENTS, { first: 5 }, bearer('nope')))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(AUTH_EVENTS, { first: 5 }, bearer(alice.refreshToken)))).toBe('UNAUTHENTICATED');
    expect((await t.gql(LOGOUT, {}, bearer(alice.accessToken))).data?.logout).toBe(true);
    expect(codeOf(await t.gql(AUTH_EVENTS, { first: 5 }, bearer(alice.accessToken)))).toBe('UNAUTHENTICATED');
  });

  it('records nothing for a failed login with an unknown email, and answers it exactly like a wrong password', async () => {
    const known = await t.signUp();
    const before = Number((await queryDatabase<{ n: string }>(t.databaseUrl, 'select count(*) as n from auth_event'))[0].n);
    const unknownEmail = `nobody.${Date.now()}@example.com`;
    const unknown = await t.gql(LOGIN, { input: { email: unknownEmail, password: known.user.password } });
    const wrongPassword = await t.gql(LOGIN, { input: { email: known.user.email, password: 'wrong password here' } });
    expect(codeOf(unknown)).toBe('INVALID_CREDENTIALS');
    expect(JSON.stringify(unknown)).toBe(JSON.stringify(wrongPassword));

    // The known email's LOGIN_FAILED lands (not awaited); give the unknown one as long, then count.
    expect(await pollCount(t.databaseUrl, before + 1)).toBe(before + 1);
    await sleep(100);
    const rows = await queryDatabase<{ type: string; user_id: string; detail: string | null }>(
      t.databaseUrl,
      'select type, user_id, detail from auth_event order by seq desc limit 2',
    );
    expect(Number((await queryDatabase<{ n: string }>(t.databaseUrl, 'select count(*) as n from auth_event'))[0].n)).toBe(before + 1);
    const knownId = (await t.gql(ME, {}, bearer(known.accessToken))).data!.me.id;
    expect(rows[0]).toMatchObject({ type: 'LOGIN_FAILED', user_id: knownId });
    expect(JSON.stringify(rows)).not.toContain(unknownEmail);

    // The same email typed in other case is the same account: recorded for it.
    const shouted = await t.gql(LOGIN, { input: { email: known.user.email.toUpperCase(), password: 'wrong password here' } });
    expect(JSON.stringify(shouted)).toBe(JSON.stringify(wrongPassword));
    const events = await trailUntil(t, known.accessToken, (list) => list.filter((e) => e.type === 'LOGIN_FAILED').length === 2);
    expect(events.map((e) => e.type)).toEqual(['LOGIN_FAILED', 'LOGIN_FAILED', 'OTP_VERIFIED', 'OTP_SENT', 'REGISTERED']);
  });

  it('records each ended session, a logout once, a replayed token, a step-up and a phone change as the contract says', async () => {
    const a = await t.signUp();
    const b = await t.signIn(a.user);
    const c = await t.signIn(a.user);
    const beforeCount = (await trail(t, a.accessToken)).length;

    // changePassword: PASSWORD_CHANGED, then one SESSION_REVOKED per other session.
    const newPassword = 'a brand new passphrase';
    expect(
      (await t.gql(CHANGE_PASSWORD, { input: { currentPassword: a.user.password, newPassword } }, bearer(a.accessToken))).data?.changePassword,
    ).toBe(true);
    let events = await trail(t, a.accessToken);
    const fresh = events.slice(0, events.length - beforeCount);
    expect(fresh.map((e) => e.type).sort()).toEqual(['PASSWORD_CHANGED', 'SESSION_REVOKED', 'SESSION_REVOKED']);
    expect(fresh.find((e) => e.type === 'PASSWORD_CHANGED')!.sessionId).toBe(a.session.id);
    expect(
      fresh
        .filter((e) => e.type === 'SESSION_REVOKED')
        .map((e) => e.sessionId)
        .sort(),
    ).toEqual([b.session.id, c.session.id].sort());

    // A step-up: OTP_SENT and STEP_UP_VERIFIED for this session, no OTP_VERIFIED (no session begins).
    const user = { ...a.user, password: newPassword };
    const stepUp = (await t.gql(REAUTHENTICATE, {}, bearer(a.accessToken))).data!.reauthenticate.pendingToken;
    await t.gql(REQUEST_OTP, { input: { pendingToken: stepUp } });
    const stepped = (await t.gql(VERIFY_OTP, { input: { pendingToken: stepUp, code: t.codeFor(user.phoneNumber) } })).data!.verifyOtp;
    events = await trail(t, stepped.accessToken);
    expect(events.slice(0, 2).map((e) => [e.type, e.sessionId, e.detail])).toEqual([
      ['STEP_UP_VERIFIED', a.session.id, 'SMS'],
      ['OTP_SENT', a.session.id, `SMS to ${masked(user.phoneNumber)}`],
    ]);

    // A phone change: PHONE_NUMBER_CHANGED, masked numbers only.
    const newNumber = newUser().phoneNumber;
    const change = (await t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber: newNumber } }, bearer(stepped.accessToken))).data!
      .startPhoneNumberChange.pendingToken;
    await t.gql(REQUEST_OTP, { input: { pendingToken: change } });
    const changed = (await t.gql(VERIFY_OTP, { input: { pendingToken: change, code: t.codeFor(newNumber) } })).data!.verifyOtp;
    events = await trail(t, changed.accessToken);
    expect(events.slice(0, 2).map((e) => [e.type, e.sessionId])).toEqual([
      ['PHONE_NUMBER_CHANGED', a.session.id],
      ['OTP_SENT', a.session.id],
    ]);
    expect(events[0].detail).toContain(masked(newNumber));
    expect(events[1].detail).toBe(`SMS to ${masked(newNumber)}`);
    user.phoneNumber = newNumber;

    // A rotated token replayed within the grace period: a refresh; after it: SESSION_REUSE_DETECTED, once.
    const d = await t.signIn(user);
    const rotated = (await t.gql(REFRESH_SESSION, { input: { refreshToken: d.refreshToken } })).data!.refreshSession;
    t.clock.advance(10);
    expect((await t.gql(REFRESH_SESSION, { input: { refreshToken: d.refreshToken } })).errors).toBeUndefined();
    t.clock.advance(31);
    expect(codeOf(await t.gql(REFRESH_SESSION, { input: { refreshToken: d.refreshToken } }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(REFRESH_SESSION, { input: { refreshToken: rotated.refreshToken } }))).toBe('UNAUTHENTICATED');
    events = await trail(t, changed.accessToken);
    expect(events.slice(0, 3).map((e) => [e.type, e.sessionId])).toEqual([
      ['SESSION_REUSE_DETECTED', d.session.id],
      ['SESSION_REFRESHED', d.session.id],
      ['SESSION_REFRESHED', d.session.id],
    ]);

    // logoutEverywhere: one LOGGED_OUT for the call, saying how many, not one per session.
    await t.signIn(user);
    const ended = (await t.gql(LOGOUT_EVERYWHERE, {}, bearer(changed.accessToken))).data?.logoutEverywhere;
    expect(ended).toBe(2);
    const e = await t.signIn(user);
    events = await trail(t, e.accessToken);
    const loggedOut = events.filter((x) => x.type === 'LOGGED_OUT');
    expect(loggedOut.map((x) => [x.sessionId, x.detail])).toEqual([[a.session.id, 'every session (2)']]);
    expect(events.filter((x) => x.type === 'SESSION_REVOKED')).toHaveLength(2);
  });
});

describe('the audit trail when its table is unavailable', () => {
  const t = useTestApp();
  const rename = (from: string, to: string) => queryDatabase(t.databaseUrl, `alter table ${from} rename to ${to}`);

  it('lets a full sign-in and a refresh succeed, logs an error line per lost event, and records again once it is back', async () => {
    const user = newUser();
    const logsBefore = t.logs.length;
    let signedIn!: SignedIn;
    let refreshed!: SignedIn;
    await rename('auth_event', 'auth_event_away');
    try {
      const registered = await t.gql(REGISTER, { input: user });
      expect(registered.errors).toBeUndefined();
      const pendingToken = registered.data!.register.pendingToken;
      expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
      const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
      expect(verified.errors).toBeUndefined();
      signedIn = { ...verified.data!.verifyOtp, user };
      const res = await t.gql(REFRESH_SESSION, { input: { refreshToken: signedIn.refreshToken } });
      expect(res.errors).toBeUndefined();
      refreshed = { ...res.data!.refreshSession, user };
      // Not in a transaction of its own: the login's event.
      expect((await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).errors).toBeUndefined();
    } finally {
      await rename('auth_event_away', 'auth_event');
    }

    // What was done stuck: the user, the verified number, the session.
    const me = await t.gql(ME, {}, bearer(refreshed.accessToken));
    expect(me.data?.me).toMatchObject({ email: user.email, phoneVerified: true });

    const failures = t.logs
      .slice(logsBefore)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === AUDIT_FAILURE);
    expect(failures.map((entry) => entry.level)).toEqual(failures.map(() => 50));
    expect(failures.map((entry) => entry.eventType).sort()).toEqual([
      'LOGIN_SUCCEEDED',
      'OTP_SENT',
      'OTP_VERIFIED',
      'REGISTERED',
      'SESSION_REFRESHED',
    ]);
    // The login could not ask whether its network is known: it went on as from a new network, and said so.
    const unreadable = t.logs
      .slice(logsBefore)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === 'audit trail unavailable: every network is treated as new for the login ceiling');
    expect(unreadable.map((entry) => entry.level)).toEqual([50]);
    expectNoSecrets(
      JSON.stringify(failures),
      [user.password, signedIn.refreshToken, refreshed.refreshToken, signedIn.accessToken],
      [user.phoneNumber.slice(1)],
    );

    // Back: events are written again.
    const again = await t.gql(REFRESH_SESSION, { input: { refreshToken: refreshed.refreshToken } }, { 'user-agent': 'back/1' });
    expect(again.errors).toBeUndefined();
    const events = await trail(t, again.data!.refreshSession.accessToken);
    expect(events[0]).toMatchObject({ type: 'SESSION_REFRESHED', sessionId: signedIn.session.id, userAgent: 'back/1' });
    const failuresAfter = t.logs.slice(logsBefore).filter((line) => line.includes(AUDIT_FAILURE));
    expect(failuresAfter).toHaveLength(failures.length);
  });
});
