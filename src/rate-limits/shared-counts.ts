import type { Knex } from '@mikro-orm/postgresql';
import { queryPrepared } from '../db/prepared';
import type { Increment, SharedCounts, Total } from './synced-limiter';

/** The table the PostgreSQL store writes to; created by a migration, skipped by the ORM's schema diff. */
export const RATE_LIMIT_TABLE = 'rate_limit';

/**
 * rate-limiter-flexible's rule for a row that exists (RateLimiterPostgres's upsert): a window that
 * has ended at `now` starts again with the new points, else they are added; `excluded` is the row
 * the insert proposed.
 */
const addToWindow = (now: string) => `on conflict (key) do update set
      points = case when ${RATE_LIMIT_TABLE}.expire <= ${now} then excluded.points else ${RATE_LIMIT_TABLE}.points + excluded.points end,
      expire = case when ${RATE_LIMIT_TABLE}.expire <= ${now} then excluded.expire else ${RATE_LIMIT_TABLE}.expire end`;

/**
 * rate-limiter-flexible's upsert (same rows, same rule) of the rows (key, points, expire) that the
 * SQL `rows` selects; `now` in epoch ms. Returns each row's `key`, `points` and `expire` as they stand.
 */
const takePoints = (rows: string, now: string) => `insert into ${RATE_LIMIT_TABLE} (key, points, expire) ${rows}
    ${addToWindow(now)}
    returning key, points, expire`;

/** Many keys' points in one statement. */
const ADD = {
  name: 'synced-counts-add',
  text: takePoints('select * from unnest($1::varchar[], $2::integer[], $3::bigint[])', '$4'),
};

/**
 * rate-limiter-flexible's consume of one point (same row, same rule) as SQL for a statement of the
 * caller's (a CTE): key `key`, the end of a window starting now `expire`, and `now` (epoch ms; SQL
 * expressions, placeholders say), taken only `when` that SQL condition holds. Returns the row
 * (no row when not taken).
 */
export const takePoint = (key: string, expire: string, now: string, when = 'true') =>
  takePoints(`select ${key}::varchar, 1, ${expire}::bigint where ${when}`, now);

const READ = {
  name: 'synced-counts-read',
  text: `select key, points, expire from ${RATE_LIMIT_TABLE} where key = any($1::varchar[]) and expire > $2`,
};

interface Row {
  key: string;
  points: number;
  expire: string;
}

/** The synced limiters' counts in the service's PostgreSQL: one round trip per sync, whatever the number of keys. */
export class PostgresSharedCounts implements SharedCounts {
  constructor(
    private readonly knex: Knex,
    private readonly now: () => number = Date.now,
  ) {}

  async add(increments: Increment[]): Promise<Map<string, Total>> {
    if (increments.length === 0) return new Map();
    const now = this.now();
    const rows = await queryPrepared<Row>(this.knex, ADD, [
      increments.map(({ key }) => key),
      increments.map(({ points }) => points),
      increments.map(({ durationMs }) => now + durationMs),
      now,
    ]);
    return totalsOf(rows);
  }

  async read(keys: string[]): Promise<Map<string, Total>> {
    if (keys.length === 0) return new Map();
    return totalsOf(await queryPrepared<Row>(this.knex, READ, [keys, this.now()]));
  }
}

function totalsOf(rows: Row[]): Map<string, Total> {
  return new Map(rows.map((row) => [row.key, { points: row.points, expiresAt: Number(row.expire) }]));
}
