import { decodeJwt } from 'jose';
import { queryDatabase } from '../support/database';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Janitor } from '../../src/maintenance/janitor';
import { codeOf } from '../support/graphql-client';
import { REFRESH_SESSION } from '../support/operations';
import { loginPending, useTestApp } from '../support/test-app';

async function count(databaseUrl: string): Promise<Record<string, number>> {
  const [counts] = await queryDatabase<Record<string, number>>(
    databaseUrl,
    'select (select count(*) from auth_session)::int as sessions, (select count(*) from refresh_token)::int as tokens, (select count(*) from otp_challenge)::int as challenges, (select count(*) from auth_event)::int as events',
  );
  return counts;
}

describe('the service deletes what has expired, by itself', () => {
  const t = useTestApp({ REFRESH_TOKEN_TTL_SECONDS: '600', SESSION_MAX_TTL_SECONDS: '3600' });
  const refresh = (token: string) => t.gql(REFRESH_SESSION, { input: { refreshToken: token } });

  it('deletes idle sessions, abandoned refresh tokens and expired pending sign-ins; keeps everything live', async () => {
    const idle = await t.signUp();
    const active = await t.signUp();
    await loginPending(t.gql, active.user); // a sign-in never finished
    t.clock.advance(300);
    const rotated = (await refresh(active.refreshToken)).data!.refreshSession;
    await refresh(active.refreshToken); // a second tab within the grace period: a branch nobody uses again
    t.clock.advance(500);
    const latest = (await refresh(rotated.refreshToken)).data!.refreshSession;
    expect(await count(t.databaseUrl)).toMatchObject({ sessions: 2, tokens: 5, challenges: 3 });

    // 901 s: the idle session, the abandoned branch and every challenge have expired.
    t.clock.advance(101);
    const result = await t.app.janitor.runOnce();
    // The idle session's refresh token went with it (cascade); used-up tokens stay with their live session.
    expect(result).toMatchObject({ auth_session: 1, refresh_token: 1, otp_challenge: 3, auth_event: 0 });
    expect(await count(t.databaseUrl)).toMatchObject({ sessions: 1, tokens: 3, challenges: 0 });

    // Nothing that still worked was touched, and nothing deleted was still usable.
    expect(codeOf(await refresh(idle.refreshToken))).toBe('UNAUTHENTICATED');
    const next = (await refresh(latest.refreshToken)).data!.refreshSession;
    expect(await t.app.janitor.runOnce()).toEqual({ auth_session: 0, refresh_token: 0, otp_challenge: 0, auth_event: 0, seen_callback: 0 });
    // The oldest used-up token, long expired, was kept: its replay is still recognised and ends the session.
    expect(codeOf(await refresh(active.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(next.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('lets one replica clean at a time: concurrent passes share the work without error', async () => {
    for (let i = 0; i < 5; i++) await loginPending(t.gql, (await t.signUp()).user);
    t.clock.advance(3601);
    const expired = await count(t.databaseUrl);
    const replicas = Array.from(
      { length: 4 },
      () => new Janitor({ em: t.app.orm.em, clock: t.clock, logger: pino({ level: 'silent' }), intervalSeconds: 60, auditRetentionDays: 400 }),
    );
    const results = await Promise.all(replicas.map((janitor) => janitor.runOnce()));
    const done = results.filter((r) => r !== null);
    expect(done.length).toBeGreaterThanOrEqual(1);
    const total = (table: 'auth_session' | 'otp_challenge') => done.reduce((sum, r) => sum + r![table], 0);
    expect(total('auth_session')).toBe(expired.sessions);
    expect(total('otp_challenge')).toBe(expired.challenges);
    expect(await count(t.databaseUrl)).toEqual({ sessions: 0, tokens: 0, challenges: 0, events: expired.events });
  });

  it('deletes audit events older than the retention period (400 days), and only those', async () => {
    await t.signUp();
    const { events } = await count(t.databaseUrl);
    expect(events).toBeGreaterThan(0);
    t.clock.advance(400 * 86_400 - 60);
    const recent = await t.signUp();
    t.clock.advance(61);
    const result = await t.app.janitor.runOnce();
    const after = await count(t.databaseUrl);
    expect(result!.auth_event).toBe(events);
    expect(after.events).toBeGreaterThan(0);
    const rows = await queryDatabase(t.databaseUrl, 'select distinct user_id from auth_event');
    expect(rows).toEqual([{ user_id: decodeJwt(recent.accessToken).sub }]);
  });
});

describe('the cleanup schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Only the schedule is under test: each pass is a spy, so no database is needed. */
  const scheduledJanitor = () =>
    new Janitor({
      em: undefined as never,
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
      intervalSeconds: 60,
      auditRetentionDays: 400,
    });

  it('runs a first pass within one interval, then one per interval, until stopped', async () => {
    vi.useFakeTimers();
    const janitor = scheduledJanitor();
    const pass = vi.spyOn(janitor, 'runOnce').mockResolvedValue(null);
    janitor.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(pass).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(pass).toHaveBeenCalledTimes(2);
    await janitor.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(pass).toHaveBeenCalledTimes(2);
  });

  it('keeps its schedule after a pass that failed', async () => {
    vi.useFakeTimers();
    const janitor = scheduledJanitor();
    const pass = vi.spyOn(janitor, 'runOnce').mockRejectedValue(new Error('database unavailable'));
    janitor.start();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(pass).toHaveBeenCalledTimes(2);
    await janitor.stop();
  });
});
