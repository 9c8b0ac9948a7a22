import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { addSeconds, type Clock } from '../time/clock';

/** Any constant shared by every replica: the key of the advisory lock that elects one cleaner. */
const LOCK_KEY = 0x5e55_1011;
/** Rows deleted per statement, so no single transaction holds many locks for long. */
const BATCH = 1000;

interface Bounds {
  now: Date;
  /** Audit events from before this are past the retention period. */
  retainedSince: Date;
}

/** What expired and can go: nothing here is ever accepted again, so deleting it changes no answer. */
const EXPIRED = [
  // Sessions past their absolute or idle end (their refresh tokens go with them, by cascade).
  { table: 'auth_session', where: 'expires_at <= ? or idle_expires_at <= ?', params: ({ now }: Bounds) => [now, now] },
  // Unused refresh tokens past their own end (abandoned branches). Used-up ones stay with their
  // session: presenting one after the grace period must still end the session.
  { table: 'refresh_token', where: 'used_at is null and expires_at <= ?', params: ({ now }: Bounds) => [now] },
  // Pending sign-ins whose pending token has expired.
  { table: 'otp_challenge', where: 'expires_at <= ?', params: ({ now }: Bounds) => [now] },
  // Signed callbacks remembered past their timestamp window.
  { table: 'seen_callback', where: 'expires_at <= ?', params: ({ now }: Bounds) => [now] },
  // Audit events past the retention period.
  { table: 'auth_event', where: 'at <= ?', params: ({ retainedSince }: Bounds) => [retainedSince] },
] as const;

export type CleanupResult = Record<(typeof EXPIRED)[number]['table'], number>;

/**
 * Deletes expired rows on a schedule, inside the service (no cron). Every replica runs the
 * schedule; a transaction-scoped advisory lock lets one of them work at a time, and a replica
 * that finds the lock taken skips its turn. Deleting what is already gone is harmless, so even
 * two cleaners at once could break nothing; the lock only saves the duplicate work.
 */
export class Janitor {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(private readonly deps: { em: EntityManager; clock: Clock; logger: Logger; intervalSeconds: number; auditRetentionDays: number }) {}

  /** The first run comes after a random part of the interval, so replicas started together spread out. */
  start(): void {
    this.stopped = false;
    const schedule = (delayMs: number) => {
      // A pass that ends after stop() must not schedule the next one (the database is closing).
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = this.runOnce()
          .catch((err: unknown) => this.deps.logger.warn({ err }, 'cleanup of expired rows failed; retrying at the next interval'))
          .finally(() => schedule(this.deps.intervalSeconds * 1000));
      }, delayMs);
      this.timer.unref();
    };
    schedule(Math.random() * this.deps.intervalSeconds * 1000);
  }

  /** No new pass; resolves once the pass under way, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: batches until nothing expired is left, or another replica holds the lock. Null when skipped. */
  async runOnce(): Promise<CleanupResult | null> {
    const now = this.deps.clock.now();
    const bounds = { now, retainedSince: addSeconds(now, -this.deps.auditRetentionDays * 86_400) };
    const total = Object.fromEntries(EXPIRED.map(({ table }) => [table, 0])) as CleanupResult;
    for (let pass = 0; ; pass++) {
      const batch = await this.deps.em.fork().transactional(async (tx) => {
        const [{ locked }] = await tx.execute<[{ locked: boolean }]>('select pg_try_advisory_xact_lock(?) as locked', [LOCK_KEY]);
        if (!locked) return null;
        const deleted: number[] = [];
        for (const { table, where, params } of EXPIRED) {
          const sql = `delete from "${table}" where ctid in (select ctid from "${table}" where ${where} limit ${BATCH})`;
          const result: unknown = await tx.execute(sql, params(bounds), 'run');
          deleted.push((result as { affectedRows: number }).affectedRows);
        }
        return deleted;
      });
      // Another replica holds the lock: it carries on from here.
      if (!batch) return pass === 0 ? null : total;
      EXPIRED.forEach(({ table }, i) => {
        total[table] += batch[i];
      });
      if (batch.every((count) => count < BATCH)) break;
    }
    const deleted = Object.values(total).reduce((a, b) => a + b, 0);
    if (deleted > 0) this.deps.logger.info({ deleted: total }, 'expired rows deleted');
    return total;
  }
}
