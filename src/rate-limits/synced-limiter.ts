import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Limiter, LimiterOptions } from './limiter-store';

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
 * statistics): this process decides alone, from what the
 * shared store said at the last sync plus what it has admitted since, and every `syncMs` adds its
 * new points to the shared counter in one write per active key and reads the total back.
 *
 * Guarantees: one process enforces the limit exactly (the same answers as counting in the store).
 * Processes learn each other's points when they sync their own, so a client that spreads its
 * requests over N processes can pass at most N × the limit in one window, and no more than the
 * limit once each process has synced after the others. Memory: one small entry per key seen in a
 * live window; entries are dropped once their window has ended and their points are synced.
 */
export class SyncedLimiter implements Limiter {
  private readonly entries = new Map<string, Entry>();
  private syncing: Promise<void> | undefined;

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

  /** The count as this process knows it; a key not held yet is read from the store once. */
  async get(key: string): Promise<RateLimiterRes | null> {
    let entry = this.entries.get(key);
    if (!entry || this.now() >= entry.windowEndsAt) {
      const stored = await this.shared.get(key);
      if (!stored) return null;
      entry = { shared: stored.consumedPoints, pending: entry?.pending ?? 0, windowEndsAt: this.now() + stored.msBeforeNext, watched: false };
      this.entries.set(key, entry);
    }
    entry.watched = true;
    const consumed = entry.shared + entry.pending;
    return new RateLimiterRes(Math.max(0, this.options.points - consumed), entry.windowEndsAt - this.now(), consumed, false);
  }

  async delete(key: string): Promise<boolean> {
    this.entries.delete(key);
    return this.shared.delete(key);
  }

  /**
   * Adds what this process admitted to the shared counters and learns the totals. One sync at a
   * time; a call during a sync waits for it.
   */
  sync(): Promise<void> {
    this.syncing ??= this.syncNow().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Keys held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private async syncNow(): Promise<void> {
    const work: Array<Promise<void>> = [];
    for (const [key, entry] of this.entries) {
      if (entry.pending !== 0) work.push(this.push(key, entry));
      else if (entry.watched) work.push(this.refresh(key, entry));
      else if (this.now() >= entry.windowEndsAt) this.entries.delete(key);
      entry.watched = false;
    }
    await Promise.all(work);
  }

  private push(key: string, entry: Entry): Promise<void> {
    const points = entry.pending;
    return this.shared.consume(key, points).then(
      (total) => this.learn(entry, points, total),
      (refused: unknown) => {
        // Over the limit in the shared store: still a total to learn, not a failure.
        if (refused instanceof RateLimiterRes) return this.learn(entry, points, refused);
        throw refused;
      },
    );
  }

  /** A key only read here (another process counts it): its total as the store has it now. */
  private async refresh(key: string, entry: Entry): Promise<void> {
    const stored = await this.shared.get(key);
    if (stored) this.learn(entry, 0, stored);
    else entry.shared = 0;
  }

  private learn(entry: Entry, points: number, total: RateLimiterRes): void {
    entry.pending -= points;
    entry.shared = total.consumedPoints;
    entry.windowEndsAt = this.now() + total.msBeforeNext;
  }
}
