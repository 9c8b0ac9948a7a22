import { createHash } from 'node:crypto';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { secondsToWait } from '../time/clock';
import { ipBucket } from './ip-bucket';
import type { Limiter } from './limiter-store';

/**
 * Identifiers (emails, phone numbers) are hashed before they become counter keys: the counters'
 * table or Redis then holds no personal data, and every key has the same short length.
 */
export function limitKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 32);
}

/**
 * `limitKey` of one part, as SQL: `part` is a text expression of the caller's statement (for an
 * identity only the statement knows). PostgreSQL's sha256 in base64 made URL-safe, its first 32
 * characters as `limitKey` keeps them (the padding lies beyond).
 */
export const limitKeySql = (part: string) => `left(translate(encode(sha256(convert_to(${part}, 'UTF8')), 'base64'), '+/', '-_'), 32)`;

/** The identity of login's per-email limit: an email (canonical form) from one client network. */
export function emailAtNetwork(emailCanonical: string, ip: string): string {
  return `${emailCanonical}\u0000${ipBucket(ip)}`;
}

/** `until`: when the window the point was taken from ends (epoch ms); a give-back after it is void. */
export type Taken = { ok: true; until: number } | { ok: false; retryAfterSeconds: number };

/**
 * A budget's point taken by a statement of the caller's (`takePoint` in src/rate-limits/shared-counts.ts,
 * with these values as its key, expire and now), for one round trip less than `take` and the
 * statement. The same row, the same answer as `take`.
 */
export interface PointInStatement {
  values: [rowKey: string, expire: number, now: number];
  /** The most points the window admits (more: refused). */
  limit: number;
  /** What the row `takePoint` returned means. */
  taken(row: PointRow): Taken;
}

/**
 * A budget's point taken by a statement that derives the identity itself: its row key is `keyPrefix`
 * followed by `limitKeySql` of the identity (`takePoint` in src/rate-limits/shared-counts.ts).
 */
export interface PointOfSqlIdentity {
  keyPrefix: string;
  /** The end of a window starting now, and now (epoch ms). */
  expire: number;
  now: number;
  /** The most points the window admits (more: refused). */
  limit: number;
  /** The row an identity's point is counted in. */
  rowKey(identity: string): string;
  /** What the row the statement returned means. */
  taken(row: PointRow): Taken;
}

/** A counter's row as `takePoint` returns it (`expire`: epoch ms, a bigint, so text from the driver). */
export interface PointRow {
  points: number;
  expire: string;
}

/** A counter's row with its key, as `takePoint` returns it. */
export interface KeyedPointRow extends PointRow {
  key: string;
}

/** A countable allowance (sends to a number, wrong codes of a user...) that can be given back. */
export class Budget {
  /** `refused` is told of each refusal (the metrics' `rate_limit_refusals_total`). */
  constructor(
    private readonly limiter: Limiter,
    private readonly refused: () => void = () => {},
  ) {}

  async take(identity: string): Promise<Taken> {
    try {
      return this.answer(true, (await this.limiter.consume(limitKey(identity))).msBeforeNext);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      return this.answer(false, error.msBeforeNext);
    }
  }

  /** `take` as SQL for the caller's statement, when the counts are in PostgreSQL (else undefined: `take`). */
  inStatement(identity: string): PointInStatement | undefined {
    const point = this.inStatementOfSqlIdentity();
    return point && { values: [point.rowKey(identity), point.expire, point.now], limit: point.limit, taken: point.taken };
  }

  /** `inStatement` for an identity the caller's statement derives itself (a destination it reads). */
  inStatementOfSqlIdentity(): PointOfSqlIdentity | undefined {
    const table = this.limiter.inPostgres;
    if (!table) return undefined;
    const now = Date.now();
    return {
      // rate-limiter-flexible's row key is the limiter's prefix and the key.
      keyPrefix: table.rowKey(''),
      expire: now + table.durationMs,
      now,
      limit: table.points,
      rowKey: (identity) => table.rowKey(limitKey(identity)),
      // rate-limiter-flexible's rule: refused once the window holds more points than the limit.
      taken: ({ points, expire }) => this.answer(points <= table.points, Math.max(Number(expire) - Date.now(), 0)),
    };
  }

  /**
   * Seconds until `identity` has a point again, when it has none left; undefined while it has.
   * A read: nothing is taken.
   */
  async exhausted(identity: string): Promise<number | undefined> {
    const counted = await this.limiter.get(limitKey(identity));
    return counted && counted.remainingPoints <= 0 ? secondsToWait(counted.msBeforeNext) : undefined;
  }

  /**
   * `exhausted` as values for the caller's statement when the counts are in PostgreSQL (else
   * undefined: `exhausted`): the row's key, the points that exhaust it, now (epoch ms). The row
   * holds no point left while `points >= limit` and `expire > now`.
   */
  exhaustedInStatement(identity: string): [rowKey: string, limit: number, now: number] | undefined {
    const point = this.inStatementOfSqlIdentity();
    return point && [point.rowKey(identity), point.limit, point.now];
  }

  private answer(ok: boolean, msBeforeNext: number): Taken {
    if (ok) return { ok, until: Date.now() + msBeforeNext };
    this.refused();
    return { ok, retryAfterSeconds: secondsToWait(msBeforeNext) };
  }

  /** Drops the counter altogether (the identity is gone: a deleted user). */
  async forget(identity: string): Promise<void> {
    await this.limiter.delete(limitKey(identity));
  }

  /**
   * Returns what `take` used, when the thing it paid for did not happen. Only into the window it
   * came from: after that window has rolled over, a point given back would be a point granted.
   */
  async giveBack(identity: string, taken: Taken): Promise<void> {
    if (!taken.ok || Date.now() >= taken.until) return;
    await this.limiter.reward(limitKey(identity));
  }
}
