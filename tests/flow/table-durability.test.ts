import { describe, expect, it } from 'vitest';
import { queryDatabase } from '../support/database';
import { newUser, useTestApp } from '../support/test-app';

/** The part of a pooled `pg` client and of knex's client that the test uses. */
interface PgConnection {
  query(text: string): Promise<{ rows: Array<Record<string, string>> }>;
}
interface KnexClient {
  pool: { numFree(): number };
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

/**
 * What survives a PostgreSQL crash, as the README's "Abuse resistance" states it: the counters and
 * the pending challenges are unlogged (lost on a crash or fail-over, never waited on at commit);
 * accounts, sessions, refresh tokens, recovery codes and the audit trail are logged. Events about a
 * pending challenge are committed without waiting for the flush (synchronous_commit off for that
 * statement's transaction only).
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

  it('commits the events of pending challenges unflushed for their own transaction only: every pooled connection stays on', async () => {
    const user = newUser();
    await t.signUp(user);
    await t.signIn(user);
    const types = await queryDatabase<{ type: string }>(
      t.databaseUrl,
      `select e.type from auth_event e join app_user u on u.id = e.user_id where u.email = '${user.email}' order by e.at, e.type`,
    );
    expect(types.map((row) => row.type)).toEqual(expect.arrayContaining(['LOGIN_SUCCEEDED', 'OTP_SENT', 'OTP_VERIFIED']));

    const client = t.app.orm.em.getKnex().client as KnexClient;
    const idle = client.pool.numFree();
    expect(idle).toBeGreaterThan(0);
    const connections = await Promise.all(Array.from({ length: idle }, () => client.acquireConnection()));
    try {
      const settings = await Promise.all(
        connections.map(async (connection) => (await connection.query('show synchronous_commit')).rows[0]?.synchronous_commit),
      );
      expect(settings).toEqual(Array(idle).fill('on'));
    } finally {
      await Promise.all(connections.map((connection) => client.releaseConnection(connection)));
    }
  });
});
