import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import { LOGOUT, LOGOUT_EVERYWHERE, ME, REFRESH_SESSION, REVOKE_SESSION, SESSIONS } from '../support/operations';
import { type SignedIn, useTestApp } from '../support/test-app';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('ending sessions: logout, logoutEverywhere, revokeSession, and the session list', () => {
  const t = useTestApp();
  const me = (s: SignedIn) => t.gql(ME, {}, bearer(s.accessToken));
  const refresh = (s: SignedIn) => t.gql(REFRESH_SESSION, { input: { refreshToken: s.refreshToken } });
  const revoke = (s: SignedIn, sessionId: unknown) => t.gql(REVOKE_SESSION, { input: { sessionId } }, bearer(s.accessToken));
  const list = async (s: SignedIn) => (await t.gql(SESSIONS, {}, bearer(s.accessToken))).data!.sessions as Array<Record<string, any>>;

  it('lists live sessions newest first, the current one marked, with what the client sent', async () => {
    const first = await t.signUp({}, { 'user-agent': `Firefox/${'x'.repeat(400)}` });
    t.clock.advance(10);
    const second = await t.signIn(first.user, { 'user-agent': 'Caf\u00c3\u00a9 Browser' }); // UTF-8 bytes of "Café", as sent on the wire
    t.clock.advance(10);
    const third = await t.signIn(first.user);
    const sessions = await list(second);
    expect(sessions.map((s) => s.id)).toEqual([third.session.id, second.session.id, first.session.id]);
    expect(sessions.map((s) => s.current)).toEqual([false, true, false]);
    expect(sessions[2].userAgent).toHaveLength(256);
    expect(sessions[1].userAgent).toBe('Café Browser');
    expect(sessions[1]).toMatchObject({ ipAddress: '127.0.0.1', amr: ['pwd', 'sms'] });
  });

  it('logout ends its own session at once (access and refresh tokens), and no other', async () => {
    const a = await t.signUp();
    const b = await t.signIn(a.user);
    expect((await t.gql(LOGOUT, {}, bearer(a.accessToken))).data?.logout).toBe(true);
    expect(codeOf(await me(a))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(a))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(LOGOUT, {}, bearer(a.accessToken)))).toBe('UNAUTHENTICATED');
    expect((await me(b)).data?.me).toBeTruthy();
    expect((await list(b)).map((s) => s.id)).toEqual([b.session.id]);
  });

  it('logoutEverywhere ends every session of the user and says how many; other users keep theirs', async () => {
    const a = await t.signUp();
    const others = [await t.signIn(a.user), await t.signIn(a.user)];
    const stranger = await t.signUp();
    expect((await t.gql(LOGOUT_EVERYWHERE, {}, bearer(a.accessToken))).data?.logoutEverywhere).toBe(3);
    for (const s of [a, ...others]) {
      expect(codeOf(await me(s))).toBe('UNAUTHENTICATED');
      expect(codeOf(await refresh(s))).toBe('UNAUTHENTICATED');
    }
    expect((await me(stranger)).data?.me).toBeTruthy();
  });

  it("revokeSession ends one of the user's own sessions; the current one carries on", async () => {
    const current = await t.signUp();
    const lost = await t.signIn(current.user);
    expect((await revoke(current, lost.session.id)).data?.revokeSession).toBe(true);
    expect(codeOf(await me(lost))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(lost))).toBe('UNAUTHENTICATED');
    expect((await me(current)).data?.me).toBeTruthy();
    expect((await revoke(current, lost.session.id)).data?.revokeSession).toBe(false);
    // Its own session too, like logout.
    expect((await revoke(current, current.session.id)).data?.revokeSession).toBe(true);
    expect(codeOf(await me(current))).toBe('UNAUTHENTICATED');
  });

  it("answers false for another user's session exactly as for an unknown or malformed id, and changes nothing", async () => {
    const caller = await t.signUp();
    const victim = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    const ids = [victim.session.id, '00000000-0000-4000-8000-000000000000', 'not-a-uuid', '', ' ', 'a'.repeat(10_000), "' or 1=1 --", '\u0000', 42];
    const answers = await Promise.all(ids.map((id) => revoke(caller, id)));
    expect(answers.map((a) => JSON.stringify(a))).toEqual(Array(ids.length).fill(JSON.stringify({ status: 200, data: { revokeSession: false } })));
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await me(victim)).data?.me).toBeTruthy();
  });

  it('refuses every session operation without a live bearer token', async () => {
    const signedIn = await t.signUp();
    for (const [query, variables] of [
      [SESSIONS, {}],
      [LOGOUT, {}],
      [LOGOUT_EVERYWHERE, {}],
      [REVOKE_SESSION, { input: { sessionId: signedIn.session.id } }],
    ] as const) {
      expect(codeOf(await t.gql(query, variables))).toBe('UNAUTHENTICATED');
      expect(codeOf(await t.gql(query, variables, bearer('nope')))).toBe('UNAUTHENTICATED');
      // A refresh token is not a bearer token.
      expect(codeOf(await t.gql(query, variables, bearer(signedIn.refreshToken)))).toBe('UNAUTHENTICATED');
    }
    expect((await me(signedIn)).data?.me).toBeTruthy();
  });
});

describe('the session operations are rate-limited per client address', () => {
  const t = useTestApp({ RATE_LIMIT_SESSIONS_PER_IP: '3/60', RATE_LIMIT_REFRESH_SESSION_PER_IP: '2/60', TRUST_PROXY: 'loopback' });

  it('refuses the fourth session call and the third refresh from one address, with retryAfterSeconds', async () => {
    const signedIn = await t.signUp();
    const from = (ip: string) => ({ ...bearer(signedIn.accessToken), 'x-forwarded-for': ip });
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push(codeOf(await t.gql(SESSIONS, {}, from('192.0.2.10'))) ?? 'ok');
    expect(calls).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    expect(codeOf(await t.gql(LOGOUT, {}, from('192.0.2.10')))).toBe('RATE_LIMITED');

    const refreshes = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(REFRESH_SESSION, { input: { refreshToken: 'A'.repeat(43) } }, { 'x-forwarded-for': '192.0.2.20' });
      refreshes.push(res.errors![0].extensions!);
    }
    expect(refreshes.map((e) => e.code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
    expect(refreshes[2].retryAfterSeconds).toBeGreaterThan(0);
    expect((await t.gql(SESSIONS, {}, from('192.0.2.11'))).data?.sessions).toHaveLength(1);
  });
});
