import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Limiter, LimiterOptions } from './limiter-store';

/** Points to add to a key's shared counter; a new window of `durationMs` starts where none is live. */
export interface Increment {
  key: string;
  points: number;
  durationMs: number;
}

/** A shared counter's total in its live window. */
export interface Total {
  points: number;
  expiresAt: number;
}

/**
 * Where synced counts are added up: every key of every synced limiter in one round trip
 * (LimiterStore batches them), the table rate-limiter-flexible's own limiters use.
 */
export interface SharedCounts {
  add(increments: Increment[]): Promise<Map<string, Total>>;
  read(keys: string[]): Promise<Map<string, Total>>;
}

/** One limiter's part of a sync: what to send, and what to do with the totals that come back. */
export interface SyncWork {
  increments: Increment[];
  reads: string[];
  apply(totals: Map<string, Total>): void;
}

interface Entry {
  /** The shared counter's value at the last sync (every process's points). */
  shared: number;
  /** Points this process admitted since, not yet added to the shared counter. */
  pending: number;
  /** When the window ends (epoch ms): the store's word after a sync, this process's guess before. */
  windowEndsAt: number;
  /** Read since the last sync: the next sync refreshes it even without points of its own to add. */
  watched: boolean;
}

/**
 * A limiter for counts where a database write per request would cost more than the request
 * itself and a second's lag between processes is harmless (per-address throttles, the SMS-pumping
 * statistics): this process decides alone, from what the shared store said at the last sync plus
 * what it has admitted since; every second the store adds every synced limiter's new points in
 * one statement and answers the totals (LimiterStore).
 *
 * Guarantees: one process enforces the limit exactly (the same answers as counting in the store).
 * Processes learn each other's points when they sync their own, so a client that spreads its
 * requests over N processes can pass at most N × the limit in one window, and no more than the
 * limit once each process has synced after the others. Memory: one small entry per key seen in a
 * live window; entries are dropped once their window has ended and their points are synced.
 */
export class SyncedLimiter implements Limiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly shared: Limiter,
    private readonly options: LimiterOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async consume(key: string, points = 1): Promise<RateLimiterRes> {
    const now = this.now();
    let entry = this.entries.get(key);
    if (!entry || now >= entry.windowEndsAt) {
      entry = { shared: 0, pending: entry?.pending ?? 0, windowEndsAt: now + this.options.duration * 1000, watched: false };
      this.entries.set(key, entry);
    }
    const consumed = entry.shared + entry.pending + points;
    const remaining = Math.max(0, this.options.points - consumed);
    const result = new RateLimiterRes(remaining, entry.windowEndsAt - now, consumed, false);
    if (consumed > this.options.points) throw result;
    entry.pending += points;
    return result;
  }

  async reward(key: string, points = 1): Promise<RateLimiterRes> {
    const entry = this.entries.get(key);
    if (entry) entry.pending -= points;
    return new RateLimiterRes(0, 0, entry ? entry.shared + entry.pending : 0, false);
  }

  /**
   * The count as this process knows it, or null when nothing is counted. A key not held yet is read
   * from the store once, held even when the store has nothing for it (as zero), and refreshed by
   * the next sync like any key read here.
   */
  async get(key: string): Promise<RateLimiterRes | null> {
    let entry = this.entries.get(key);
    if (!entry || this.now() >= entry.windowEndsAt) {
      const stored = await this.shared.get(key);
      // Another call may have set the key while the store answered (concurrent reads, then their
      // consumes): its entry, points counted since included, is the one to keep.
      const latest = this.entries.get(key);
      if (latest && latest !== entry && this.now() < latest.windowEndsAt) entry = latest;
      else {
        const msLeft = stored?.msBeforeNext ?? this.options.duration * 1000;
        entry = { shared: stored?.consumedPoints ?? 0, pending: latest?.pending ?? 0, windowEndsAt: this.now() + msLeft, watched: false };
        this.entries.set(key, entry);
      }
    }
    entry.watched = true;
    const consumed = entry.shared + entry.pending;
    if (consumed === 0) return null;
    return new RateLimiterRes(Math.max(0, this.options.points - consumed), entry.windowEndsAt - this.now(), consumed, false);
  }

  async delete(key: string): Promise<boolean> {
    this.entries.delete(key);
    return this.shared.delete(key);
  }

  /**
   * Points admitted since the last sync, per key, and keys only read here (another process
   * counts them). If the sync fails, `apply` is never called and the points wait for the next.
   */
  syncWork(): SyncWork {
    const now = this.now();
    const pushed: Array<{ key: string; entry: Entry; points: number }> = [];
    const watched: Array<{ key: string; entry: Entry }> = [];
    for (const [key, entry] of this.entries) {
      if (entry.pending !== 0) pushed.push({ key, entry, points: entry.pending });
      else if (entry.watched) watched.push({ key, entry });
      else if (now >= entry.windowEndsAt) this.entries.delete(key);
    }
    const durationMs = this.options.duration * 1000;
    return {
      increments: pushed.map(({ key, points }) => ({ key: this.storeKey(key), points, durationMs })),
      reads: watched.map(({ key }) => this.storeKey(key)),
      apply: (totals) => {
        for (const { key, entry, points } of pushed) {
          entry.pending -= points;
          entry.watched = false;
          this.learn(entry, totals.get(this.storeKey(key)));
        }
        for (const { key, entry } of watched) {
          entry.watched = false;
          this.learn(entry, totals.get(this.storeKey(key)));
        }
      },
    };
  }

  /** Keys held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** The key as rate-limiter-flexible's limiters store it (same table, same rows). */
  private storeKey(key: string): string {
    return `${this.options.keyPrefix}:${key}`;
  }

  private learn(entry: Entry, total: Total | undefined): void {
    if (!total) {
      entry.shared = 0;
      return;
    }
    entry.shared = total.points;
    entry.windowEndsAt = total.expiresAt;
  }
}

/**
 * Adds what these limiters admitted since their last sync to the shared counters and teaches them
 * the totals: every key in one `add` and one `read`. If either fails, nothing is applied and the
 * points wait for the next sync.
 */
export async function syncLimiters(limiters: SyncedLimiter[], counts: SharedCounts): Promise<void> {
  const work = limiters.map((limiter) => limiter.syncWork());
  const added = await counts.add(work.flatMap((part) => part.increments));
  const read = await counts.read(work.flatMap((part) => part.reads));
  const totals = new Map([...added, ...read]);
  for (const part of work) part.apply(totals);
}
