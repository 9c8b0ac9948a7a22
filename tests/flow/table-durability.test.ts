import { describe, expect, it } from 'vitest';
import { queryDatabase } from '../support/database';
import { useTestApp } from '../support/test-app';

/**
 * What survives a PostgreSQL crash, as the README's "Abuse resistance" states it: the counters and
 * the pending challenges are unlogged (lost on a crash or fail-over, never waited on at commit);
 * accounts, sessions, refresh tokens, recovery codes and the audit trail are logged.
 */
describe('tables after the migrations', () => {
  const t = useTestApp();

  it('keeps only the counters and the pending challenges out of the write-ahead log', async () => {
    const rows = await queryDatabase<{ relname: string; relpersistence: string }>(
      t.databaseUrl,
      `select relname, relpersistence from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace and relname <> 'mikro_orm_migrations'`,
    );
    const unlogged = rows.filter((row) => row.relpersistence === 'u').map((row) => row.relname);
    expect(unlogged.sort()).toEqual(['otp_challenge', 'rate_limit']);
    const logged = rows.filter((row) => row.relpersistence === 'p').map((row) => row.relname);
    expect(logged).toEqual(expect.arrayContaining(['app_user', 'auth_session', 'refresh_token', 'recovery_code', 'auth_event']));
  });
});
