import type { AuthSession } from './session.entity';

/**
 * When a session is live: neither its absolute nor its idle end has passed (ended sessions are
 * deleted). One rule in its three forms: a MikroORM filter, a test of a session in hand, and SQL.
 */
export function liveAt(now: Date) {
  return { expiresAt: { $gt: now }, idleExpiresAt: { $gt: now } };
}

/** `liveAt` for a session in hand. */
export function isLive(session: AuthSession, now: Date): boolean {
  return session.expiresAt > now && session.idleExpiresAt > now;
}

/** `liveAt` in SQL: `now` a placeholder (`$3`, `?`), `s` the table's alias if any (`s.`). */
export const liveSessionSql = (now: string, s = '') => `${s}expires_at > ${now} and ${s}idle_expires_at > ${now}`;
