import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY, MigrationLockTimeout, withMigrationLock } from '../../src/db/migration-lock';
import { migrationsList } from '../../src/migrations';
import { createScratchDatabase, queryDatabase } from '../support/database';
import { startTestApp, type TestApp } from '../support/test-app';

const INSTANCES = 4;
const silent = pino({ level: 'silent' });

/** Replicas deployed at once (a rollout, an autoscaler) onto a database nobody has migrated yet. */
describe('instances started at the same moment on an empty database', () => {
  // Regression: without the migration lock all but one failed ("relation already exists",
  // duplicate key in pg_type) as each ran every migration itself.
  it('all come up, and each migration runs exactly once', async () => {
    const database = await createScratchDatabase();
    const started = await Promise.allSettled(Array.from({ length: INSTANCES }, () => startTestApp({}, { database })));
    const apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(started.map((result) => (result.status === 'fulfilled' ? 'up' : String(result.reason)))).toEqual(Array(INSTANCES).fill('up'));
      for (const app of apps) expect(await answers(app)).toBe(true);
      const applied = await queryDatabase<{ name: string }>(database.url, 'select name from mikro_orm_migrations order by id');
      expect(applied.map(({ name }) => name)).toEqual(migrationsList.map(({ name }) => name));
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
      await database.drop();
    }
  });
});

describe('the migration lock', () => {
  it('gives up after MIGRATION_LOCK_TIMEOUT_SECONDS with an error that says why', async () => {
    const database = await createScratchDatabase();
    const holder = await lockHolder(database.url);
    try {
      const starting = startTestApp({ MIGRATION_LOCK_TIMEOUT_SECONDS: '1' }, { database });
      await expect(starting).rejects.toThrow(MigrationLockTimeout);
      await expect(starting).rejects.toThrow(/another instance has been migrating the database for more than 1 s/);
      // Nothing was migrated behind the holder's back.
      expect(await queryDatabase(database.url, "select 1 from pg_tables where tablename = 'app_user'")).toEqual([]);
    } finally {
      await holder.end();
      await database.drop();
    }
  });

  it('is released when the migrations fail', async () => {
    const database = await createScratchDatabase();
    try {
      const failing = withMigrationLock(database.url, { timeoutSeconds: 5, logger: silent }, async () => {
        throw new Error('migration failed');
      });
      await expect(failing).rejects.toThrow('migration failed');
      const holder = await lockHolder(database.url);
      await holder.end();
    } finally {
      await database.drop();
    }
  });
});

/** A session of the test's own that takes the migration lock at once, or throws. */
async function lockHolder(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query(`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) as locked`);
  if (!rows[0].locked) {
    await client.end();
    throw new Error('the migration lock is held');
  }
  return client;
}

async function answers(t: TestApp): Promise<boolean> {
  const ready = await fetch(new URL('/readyz', t.app.url));
  const mutation = await t.gql('mutation { __typename }');
  return ready.status === 200 && mutation.data?.__typename === 'Mutation';
}
