import type { Knex } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config/config';
import { PostgresSharedCounts, RATE_LIMIT_TABLE } from './shared-counts';
import { SyncedLimiter, syncLimiters } from './synced-limiter';

export { RATE_LIMIT_TABLE } from './shared-counts';

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
}

/** The part of rate-limiter-flexible's API this service uses. */
export interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
  delete(key: string): Promise<boolean>;
  /** The counter as it stands, or null when nothing was counted in the current window. */
  get(key: string): Promise<RateLimiterRes | null>;
  /** Counted on every take in PostgreSQL's `rate_limit` table: its row key for a key, and the window. */
  readonly inPostgres?: { rowKey(key: string): string; points: number; durationMs: number };
}

export interface LimiterStoreDependencies {
  /** Knex instance of the ORM's pool, for the PostgreSQL store. */
  knex?: unknown;
  redis?: Redis;
  logger: Logger;
}

/**
 * Makes limiters whose counters live where the config says: in the service's PostgreSQL (shared
 * by every replica on that database, the default), in Redis, or in this process only.
 *
 * A store failure neither opens the door nor becomes a 500: the limiter falls back to a counter in
 * this process's memory with the same limit (so each replica still enforces the limit on its own)
 * and logs a warning at most once a minute.
 */
export class LimiterStore {
  private lastWarning = 0;
  private readonly synced: SyncedLimiter[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private sharedCounts: PostgresSharedCounts | undefined;

  constructor(
    private readonly config: RateLimitConfig,
    private readonly deps: LimiterStoreDependencies,
  ) {}

  /**
   * A limiter counted in this process and synced to the shared store every `syncMs` (see
   * SyncedLimiter), for per-address throttles and statistics. Only in front of PostgreSQL, where
   * each count is a write transaction; Redis and memory counters are cheap enough to count each
   * request where they are.
   */
  createSynced(options: LimiterOptions): Limiter {
    const shared = this.create(options);
    if (this.config.store !== 'postgres') return shared;
    const limiter = new SyncedLimiter(shared, options);
    this.synced.push(limiter);
    this.syncTimer ??= setInterval(() => void this.syncAll(), this.config.syncMs).unref();
    return limiter;
  }

  /**
   * Adds every process-held count to the shared store and learns the totals, all synced limiters
   * in one statement (on the timer, and once more at shutdown). One sync at a time; a failed one
   * keeps its points for the next.
   */
  syncAll(): Promise<void> {
    this.syncing ??= this.syncBatch().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async syncBatch(): Promise<void> {
    this.sharedCounts ??= new PostgresSharedCounts(this.deps.knex as Knex);
    await syncLimiters(this.synced, this.sharedCounts).catch((error: unknown) => this.warnUnavailable(error));
  }

  async close(): Promise<void> {
    clearInterval(this.syncTimer);
    await this.syncAll();
  }

  create(options: LimiterOptions): Limiter {
    const memory = new RateLimiterMemory(options);
    if (this.config.store === 'memory') return memory;
    const shared: RateLimiterAbstract =
      this.config.store === 'redis'
        ? new RateLimiterRedis({ ...options, storeClient: this.deps.redis, rejectIfRedisNotReady: true })
        : new RateLimiterPostgres({ ...options, storeClient: this.deps.knex, storeType: 'knex', tableName: RATE_LIMIT_TABLE, tableCreated: true });
    return {
      inPostgres:
        shared instanceof RateLimiterPostgres
          ? { rowKey: (key) => shared.getKey(key), points: options.points, durationMs: options.duration * 1000 }
          : undefined,
      consume: (key, points) =>
        this.withFallback(
          () => shared.consume(key, points),
          () => memory.consume(key, points),
        ),
      reward: (key, points) =>
        this.withFallback(
          () => shared.reward(key, points),
          () => memory.reward(key, points),
        ),
      get: (key) =>
        this.withFallback(
          () => shared.get(key),
          () => memory.get(key),
        ),
      delete: (key) =>
        this.withFallback(
          async () => (await Promise.all([shared.delete(key), memory.delete(key)]))[0],
          () => memory.delete(key),
        ),
    };
  }

  /** For graphql-rate-limit-directive, which instantiates its limiters itself. */
  limiterClass(kind: 'shared' | 'synced' = 'shared'): new (options: LimiterOptions) => Limiter {
    const store = this;
    return function StoreLimiter(options: LimiterOptions) {
      return kind === 'synced' ? store.createSynced(options) : store.create(options);
    } as unknown as new (
      options: LimiterOptions,
    ) => Limiter;
  }

  private async withFallback<T>(primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    try {
      return await primary();
    } catch (error) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the limit is reached: not a failure.
      if (error instanceof RateLimiterRes) throw error;
      this.warnUnavailable(error);
      return fallback();
    }
  }

  private warnUnavailable(error: unknown): void {
    if (Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.deps.logger.warn({ store: this.config.store, err: error }, 'rate-limit store unavailable: limits are enforced per process until it is back');
  }
}
