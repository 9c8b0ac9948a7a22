import pg from 'pg';
import type { Logger } from 'pino';

/**
 * The advisory lock migrations run under. Any constant no other advisory lock on the database uses
 * (the janitor's is 0x5e551011); never change it, or two versions in one rolling upgrade would not
 * exclude each other.
 */
export const MIGRATION_LOCK_KEY = 0x5e55_0001;

/** PostgreSQL's `lock_not_available`: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

export class MigrationLockTimeout extends Error {
  constructor(seconds: number, options: ErrorOptions) {
    super(
      `another instance has been migrating the database for more than ${seconds} s (advisory lock ${MIGRATION_LOCK_KEY} is held): ` +
        'look for a stuck migration, or raise MIGRATION_LOCK_TIMEOUT_SECONDS',
      options,
    );
    this.name = 'MigrationLockTimeout';
  }
}

/**
 * Runs `migrate` holding a session-level advisory lock, so that instances started together on one
 * database migrate one after another: the first runs what is pending, the others wait, then find
 * nothing left. MikroORM's migrator (umzug) takes no lock, and creates its own table outside the
 * migration transaction: without this, concurrent starts fail on "relation already exists".
 *
 * The lock is held by a connection of its own, not by a transaction: the migrator's transactions
 * run on the ORM's pool meanwhile. Closing that connection releases the lock, and PostgreSQL
 * releases it too if this process dies, so a crashed instance never leaves the others waiting.
 * The wait is bounded by `lock_timeout`.
 */
export async function withMigrationLock<T>(
  databaseUrl: string,
  options: { timeoutSeconds: number; logger: Logger },
  migrate: () => Promise<T>,
): Promise<T> {
  const { timeoutSeconds, logger } = options;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'sinch-2fa migration lock' });
  // A connection lost while migrating must not become an uncaught 'error' event.
  client.on('error', (err) => logger.warn({ err }, 'the migration lock connection failed'));
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) as locked`);
    if (!rows[0].locked) {
      logger.info({ timeoutSeconds }, 'another instance is migrating the database: waiting for it to finish');
      await client.query(`set lock_timeout = ${timeoutSeconds * 1000}`);
      await client.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`).catch((error: unknown) => {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new MigrationLockTimeout(timeoutSeconds, { cause: error });
        throw error;
      });
    }
    try {
      return await migrate();
    } finally {
      // Ending the connection below releases it anyway; unlocking first says so without waiting for that.
      await client.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
