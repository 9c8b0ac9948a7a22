import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { queryDatabase } from '../support/database';
import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import { ME, REFRESH_SESSION, SESSIONS } from '../support/operations';
import { type SignedIn, useTestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('sessions: a sign-in begins one, refresh tokens rotate it', () => {
  const t = useTestApp({ TRUST_PROXY: 'loopback' });
  const refresh = (token: string, headers: Record<string, string> = {}) => t.gql(REFRESH_SESSION, { input: { refreshToken: token } }, headers);
  const me = (token: string) => t.gql(ME, {}, bearer(token));

  it('answers verifyOtp with a refresh token, a session, and an access token carrying sid and auth_time', async () => {
    const signedIn = await t.signUp({}, { 'user-agent': 'Demo/1.0 (X11)', 'x-forwarded-for': '203.0.113.7' });
    const now = t.clock.now().getTime();
    expect(signedIn.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(signedIn.refreshExpiresAt) - now).toBeCloseTo(14 * 86_400_000, -4);
    expect(Date.parse(signedIn.session.expiresAt) - now).toBeCloseTo(30 * 86_400_000, -4);
    expect(signedIn.session).toMatchObject({ amr: ['pwd', 'sms'], current: true, userAgent: 'Demo/1.0 (X11)', ipAddress: '203.0.113.7' });

    const claims = decodeJwt(signedIn.accessToken);
    expect(claims.sid).toBe(signedIn.session.id);
    expect(claims.auth_time).toBe(Math.floor(Date.parse(signedIn.session.authenticatedAt) / 1000));
    expect((await me(signedIn.accessToken)).data?.me.email).toBe(signedIn.user.email);
  });

  it('stores refresh tokens only as a hash', async () => {
    const { refreshToken } = await t.signUp();
    const hash = createHash('sha256').update(refreshToken).digest('base64url');
    const rows = await queryDatabase(t.databaseUrl, 'select * from refresh_token where token_hash = $1', [hash]);
    expect(rows).toHaveLength(1);
    const dump = await queryDatabase<{ dump: string }>(t.databaseUrl, "select string_agg(t::text, E'\\n') as dump from refresh_token t");
    expect(dump[0].dump).not.toContain(refreshToken);
  });

  it('rotates through a chain of 20 refreshes: one session, amr and auth_time carried over, each token single-use', async () => {
    const first = await t.signUp();
    let current: SignedIn = first;
    const seen = new Set<string>([first.refreshToken]);
    for (let i = 0; i < 20; i++) {
      t.clock.advance(60);
      const res = await refresh(current.refreshToken);
      expect(res.errors).toBeUndefined();
      const next = res.data!.refreshSession;
      expect(next.session).toMatchObject({ id: first.session.id, current: true, authenticatedAt: first.session.authenticatedAt });
      expect(Date.parse(next.session.lastUsedAt)).toBe(t.clock.now().getTime());
      expect(decodeJwt(next.accessToken)).toMatchObject({
        sid: first.session.id,
        amr: ['pwd', 'sms'],
        auth_time: decodeJwt(first.accessToken).auth_time,
      });
      expect(seen.has(next.refreshToken)).toBe(false);
      seen.add(next.refreshToken);
      current = { ...next, user: first.user };
    }
    expect((await me(current.accessToken)).data?.me.id).toBeTruthy();
    // The chain: every link names the one it replaced; all but the newest are used up.
    const links = await queryDatabase<{ used: boolean; previous_hash: string | null }>(
      t.databaseUrl,
      'select used_at is not null as used, previous_hash from refresh_token where session_id = $1',
      [first.session.id],
    );
    expect(links).toHaveLength(21);
    expect(links.filter((l) => l.used)).toHaveLength(20);
    expect(links.filter((l) => l.previous_hash === null)).toHaveLength(1);
    // The first token, long used up: presenting it now is reuse, and ends the session.
    expect(codeOf(await refresh(first.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await me(current.accessToken))).toBe('UNAUTHENTICATED');
  });

  it('gives two tabs racing with one token a working pair each, for the same session', async () => {
    const signedIn = await t.signUp();
    const [a, b] = await Promise.all([refresh(signedIn.refreshToken), refresh(signedIn.refreshToken)]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    const pairs = [a.data!.refreshSession, b.data!.refreshSession];
    expect(pairs.map((p) => p.session.id)).toEqual([signedIn.session.id, signedIn.session.id]);
    expect(pairs[0].refreshToken).not.toBe(pairs[1].refreshToken);
    // Both branches stay valid and rotate normally from there.
    t.clock.advance(5);
    for (const pair of pairs) {
      expect((await me(pair.accessToken)).data?.me).toBeTruthy();
      expect((await refresh(pair.refreshToken)).data?.refreshSession.session.id).toBe(signedIn.session.id);
    }
  });

  it('never lets concurrent refreshes of one token fork the session: ten at once, one session, every successor a child of that token', async () => {
    const signedIn = await t.signUp();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(signedIn.refreshToken)));
    expect(answers.map((a) => a.data?.refreshSession.session.id)).toEqual(Array(10).fill(signedIn.session.id));
    const hash = createHash('sha256').update(signedIn.refreshToken).digest('base64url');
    const rows = await queryDatabase<{ previous_hash: string | null; used: boolean }>(
      t.databaseUrl,
      'select previous_hash, used_at is not null as used from refresh_token where session_id = $1',
      [signedIn.session.id],
    );
    expect(rows.filter((r) => r.previous_hash === hash)).toHaveLength(10);
    expect(rows.filter((r) => r.used)).toHaveLength(1);
    expect(await queryDatabase(t.databaseUrl, 'select id from auth_session where user_id = $1', [decodeJwt(signedIn.accessToken).sub])).toHaveLength(
      1,
    );
  });

  it('gives a tab that comes back within the grace period a working pair', async () => {
    const signedIn = await t.signUp();
    const first = (await refresh(signedIn.refreshToken)).data!.refreshSession;
    t.clock.advance(29);
    const late = (await refresh(signedIn.refreshToken)).data!.refreshSession;
    expect(late.session.id).toBe(signedIn.session.id);
    expect((await me(late.accessToken)).data?.me).toBeTruthy();
    expect((await refresh(first.refreshToken)).errors).toBeUndefined();
    expect((await refresh(late.refreshToken)).errors).toBeUndefined();
  });

  it('ends only that session when a rotated token is replayed after the grace period, from another address, and says so once', async () => {
    const victim = await t.signUp();
    const otherDevice = await t.signIn(victim.user);
    const rotated = (await refresh(victim.refreshToken)).data!.refreshSession;
    t.clock.advance(31);
    const logsBefore = t.logs.length;

    const replay = await refresh(victim.refreshToken, { 'x-forwarded-for': '198.51.100.66' });
    expect(codeOf(replay)).toBe('UNAUTHENTICATED');
    // Every token of that session is dead at once: access and refresh.
    expect(codeOf(await me(rotated.accessToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await me(victim.accessToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(rotated.refreshToken))).toBe('UNAUTHENTICATED');
    // The user's other session is untouched.
    expect((await me(otherDevice.accessToken)).data?.me.id).toBeTruthy();
    const sessions = (await t.gql(SESSIONS, {}, bearer(otherDevice.accessToken))).data!.sessions;
    expect(sessions.map((s: { id: string }) => s.id)).toEqual([otherDevice.session.id]);
    expect((await refresh(otherDevice.refreshToken)).errors).toBeUndefined();

    // Replayed again: refused, nothing more to end, no second warning.
    expect(codeOf(await refresh(victim.refreshToken))).toBe('UNAUTHENTICATED');
    const warnings = t.logs.slice(logsBefore).filter((line) => line.includes('"level":40'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(victim.session.id);
    for (const secret of [victim.refreshToken, rotated.refreshToken]) expect(t.logs.join('\n')).not.toContain(secret);
  });

  it('ends the session however a replay and a legitimate refresh interleave, and never answers 500', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const signedIn = await t.signUp();
      const rotated = (await refresh(signedIn.refreshToken)).data!.refreshSession;
      t.clock.advance(31);
      const [replay, legit] = await Promise.all([refresh(signedIn.refreshToken), refresh(rotated.refreshToken)]);
      expect([replay.status, legit.status]).toEqual([200, 200]);
      expect(codeOf(replay)).toBe('UNAUTHENTICATED');
      // Whichever came first, nothing of the session works afterwards.
      const survivor = legit.data?.refreshSession;
      if (survivor) {
        expect(codeOf(await me(survivor.accessToken))).toBe('UNAUTHENTICATED');
        expect(codeOf(await refresh(survivor.refreshToken))).toBe('UNAUTHENTICATED');
      } else {
        expect(codeOf(legit)).toBe('UNAUTHENTICATED');
      }
    }
  });

  it('leaves nothing of a session that logs out while it refreshes', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const signedIn = await t.signUp();
      const [, refreshed] = await Promise.all([
        t.gql('mutation { logout }', {}, { authorization: `Bearer ${signedIn.accessToken}` }),
        refresh(signedIn.refreshToken),
      ]);
      const survivor = refreshed.data?.refreshSession;
      if (survivor) expect(codeOf(await refresh(survivor.refreshToken))).toBe('UNAUTHENTICATED');
      else expect(codeOf(refreshed)).toBe('UNAUTHENTICATED');
      expect(codeOf(await me(signedIn.accessToken))).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses the same way, and changes nothing, for unknown, malformed, oversized and expired tokens', async () => {
    const live = await t.signUp();
    const expired = await t.signUp();
    t.clock.advance(14 * 86_400 + 1);
    const before = await snapshotDatabase(t.databaseUrl);
    const tokens = [
      expired.refreshToken,
      '',
      'x',
      'A'.repeat(43),
      live.refreshToken.slice(0, 42),
      `${live.refreshToken}=`,
      live.refreshToken.toLowerCase(),
      'A'.repeat(60_000),
      `${'A'.repeat(42)}\u0000`,
      "' or 1=1 --",
    ];
    const answers = await Promise.all(tokens.map((token) => refresh(token)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.data).toBeNull();
      expect(answer.errors).toEqual([
        expect.objectContaining({ message: 'The token is missing, invalid or expired.', extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
    }
    expect(new Set(answers.map((a) => JSON.stringify(a.errors))).size).toBe(1);
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });
});

describe('session lifetimes', () => {
  const t = useTestApp({ REFRESH_TOKEN_TTL_SECONDS: '600', SESSION_MAX_TTL_SECONDS: '1500', ACCESS_TOKEN_TTL_SECONDS: '900' });
  const refresh = (token: string) => t.gql(REFRESH_SESSION, { input: { refreshToken: token } });
  const me = (token: string) => t.gql(ME, {}, bearer(token));

  it('ends a session left idle longer than the refresh token lifetime, its access tokens included', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(601);
    expect(codeOf(await refresh(signedIn.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await me(signedIn.accessToken))).toBe('UNAUTHENTICATED');
  });

  it('keeps a session alive while it is refreshed, up to its absolute end, which no token outlives', async () => {
    const signedIn = await t.signUp();
    const sessionEnd = Date.parse(signedIn.session.expiresAt);
    // The access token is capped by the refresh token's life (600 s), not its own 900 s (JWT times are whole seconds).
    expect(Date.parse(signedIn.expiresAt)).toBe(Math.floor(Date.parse(signedIn.refreshExpiresAt) / 1000) * 1000);
    let token = signedIn.refreshToken;
    for (let i = 0; i < 3; i++) {
      t.clock.advance(450);
      const next = (await refresh(token)).data!.refreshSession;
      expect(Date.parse(next.refreshExpiresAt)).toBeLessThanOrEqual(sessionEnd);
      expect(decodeJwt(next.accessToken).exp! * 1000).toBeLessThanOrEqual(sessionEnd);
      expect(Date.parse(next.expiresAt)).toBe(decodeJwt(next.accessToken).exp! * 1000);
      token = next.refreshToken;
      expect((await me(next.accessToken)).data?.me).toBeTruthy();
    }
    // 1500 s after sign-in: over, however fresh the last refresh.
    t.clock.advance(151);
    expect(codeOf(await refresh(token))).toBe('UNAUTHENTICATED');
  });

  it('ends the session when a used-up token is replayed after the grace period, even once that token has expired', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(300);
    const rotated = (await refresh(signedIn.refreshToken)).data!.refreshSession;
    t.clock.advance(400); // the first token's own end (600 s) has passed; the session lives on
    expect((await me(rotated.accessToken)).data?.me).toBeTruthy();
    expect(codeOf(await refresh(signedIn.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await me(rotated.accessToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(rotated.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('refuses an unused token past its own end, and ends nothing', async () => {
    const signedIn = await t.signUp();
    t.clock.advance(300);
    const rotated = (await refresh(signedIn.refreshToken)).data!.refreshSession;
    const branch = (await refresh(signedIn.refreshToken)).data!.refreshSession; // within the grace period
    t.clock.advance(250);
    const kept = (await refresh(rotated.refreshToken)).data!.refreshSession;
    t.clock.advance(351); // the branch's token (600 s from its birth) has expired unused
    expect(codeOf(await refresh(branch.refreshToken))).toBe('UNAUTHENTICATED');
    expect((await refresh(kept.refreshToken)).errors).toBeUndefined();
  });
});

describe('the last second of a session', () => {
  // Starts half-way through a second, so the session ends half-way through one too.
  const t = useTestApp({ SESSION_MAX_TTL_SECONDS: '60' }, { clock: new TestClock(new Date(Math.floor(Date.now() / 1000) * 1000 + 500)) });

  // Regression: a refresh in the session's last fraction of a second answered an access token whose exp had already passed.
  it('refuses a refresh that could only mint an access token expired on arrival', async () => {
    const signedIn = await t.signUp();
    expect(Date.parse(signedIn.session.expiresAt) % 1000).toBe(500);
    t.clock.advance(59.6); // 100 ms before the end, past the last whole second
    expect(codeOf(await t.gql(REFRESH_SESSION, { input: { refreshToken: signedIn.refreshToken } }))).toBe('UNAUTHENTICATED');
  });
});
