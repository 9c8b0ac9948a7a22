import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { createLogger } from '../../src/logging/logger';
import { sleep } from './http';

/**
 * The bench's PostgreSQL: the server DATABASE_URL names (any database on it; the bench creates
 * its own databases there and needs the right to), or else an embedded one in a scratch folder.
 */
export class BenchDatabase {
  private constructor(
    private readonly adminUrl: string,
    readonly admin: Client,
    readonly description: string,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async start(): Promise<BenchDatabase> {
    const given = process.env.DATABASE_URL || undefined;
    let adminUrl = given;
    let cleanup = async () => {};
    if (!adminUrl) {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-bench-pg-'));
      await chmod(dataDir, 0o755);
      const embedded = await startEmbeddedPostgres({ dataDir, logger: createLogger({ level: 'warn' }) });
      adminUrl = embedded.url;
      cleanup = async () => {
        await embedded.stop();
        await rm(dataDir, { recursive: true, force: true });
      };
    }
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    const { rows } = await admin.query<{ server_version: string }>('show server_version');
    const where = given ? `server ${new URL(adminUrl).host}` : 'embedded';
    return new BenchDatabase(adminUrl, admin, `PostgreSQL ${rows[0].server_version} (${where})`, cleanup);
  }

  /** The URL of database `name` on the same server. */
  url(name: string): string {
    const url = new URL(this.adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** Dropped (with whoever is connected) and created empty. */
  async recreate(name: string): Promise<string> {
    await this.admin.query(`drop database if exists ${name} with (force)`);
    await this.admin.query(`create database ${name}`);
    return this.url(name);
  }

  async drop(name: string): Promise<void> {
    await this.admin.query(`drop database if exists ${name} with (force)`);
  }

  /** pg_stat_database's counters of one database, as flushed so far. */
  async counters(name: string): Promise<DbCounters> {
    await this.admin.query('select pg_stat_clear_snapshot()');
    const { rows } = await this.admin.query(
      `select xact_commit + xact_rollback as xacts, tup_inserted as inserted, tup_updated as updated, tup_deleted as deleted,
              sessions from pg_stat_database where datname = $1`,
      [name],
    );
    const row = rows[0];
    return {
      xacts: Number(row.xacts),
      inserted: Number(row.inserted),
      updated: Number(row.updated),
      deleted: Number(row.deleted),
      sessions: Number(row.sessions),
    };
  }

  /**
   * The counters once every backend has flushed what it counted. PostgreSQL 15+ flushes a
   * backend's statistics at a transaction's end at most once a second, and an idle backend's
   * leftovers 10 s after it went idle: so read once `quietSince` is 11 s old, then again until two
   * reads a second apart agree.
   */
  async settledCounters(name: string, quietSince: number): Promise<DbCounters> {
    const wait = quietSince + 11_000 - Date.now();
    if (wait > 0) await sleep(wait);
    let last = await this.counters(name);
    for (let i = 0; i < 10; i++) {
      await sleep(1000);
      const now = await this.counters(name);
      if (now.xacts === last.xacts && now.inserted === last.inserted && now.updated === last.updated) return now;
      last = now;
    }
    return last;
  }

  /**
   * Autovacuum off (or back on) for every table of database `name`: an autovacuum or autoanalyze
   * run is a transaction of that database too, and writes pg_statistic rows there, which would be
   * counted as the sign-ins'. Only for the few seconds of counting.
   */
  async autovacuum(name: string, enabled: boolean): Promise<void> {
    const client = new Client({ connectionString: this.url(name) });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`);
      for (const { name: table } of rows) {
        await client.query(enabled ? `alter table ${table} reset (autovacuum_enabled)` : `alter table ${table} set (autovacuum_enabled = false)`);
      }
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await this.admin.end().catch(() => {});
    await this.cleanup();
  }
}

export interface DbCounters {
  xacts: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Connections opened: each counts one transaction of its own (its start-up), not the work's. */
  sessions: number;
}
