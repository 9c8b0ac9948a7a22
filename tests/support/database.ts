import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** A fresh, empty database on the run's server; dropped again by the returned function. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const serverUrl = new URL(inject('databaseUrl'));
  const name = `test_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(serverUrl, `drop database if exists "${name}" with (force)`),
  };
}

async function admin(serverUrl: URL, sql: string): Promise<void> {
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** One statement against a test's database, as a client of its own (not the service's pool). */
export async function queryDatabase<T = Record<string, any>>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The types of an account's audit events, oldest first. */
export async function eventTypesOf(databaseUrl: string, email: string): Promise<string[]> {
  const rows = await queryDatabase<{ type: string }>(
    databaseUrl,
    'select e.type from auth_event e join app_user u on u.id = e.user_id where u.email = $1 order by e.seq',
    [email],
  );
  return rows.map((row) => row.type);
}

/**
 * The statements of other backends waiting for a lock that `holder` holds. Inside a transaction
 * PostgreSQL keeps the first reading of pg_stat_activity (a statement's text could be the one
 * before), so each call clears it first.
 */
export async function waitingFor(holder: pg.Client): Promise<string[]> {
  await holder.query('select pg_stat_clear_snapshot()');
  const { rows } = await holder.query<{ query: string }>('select query from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))');
  return rows.map((row) => row.query);
}
