import pg from 'pg';

/**
 * Every row of every table of ours, as text: equal snapshots mean nothing changed. The audit
 * trail is left out: failed sign-ins of known accounts and wrong codes are recorded by design.
 */
export async function snapshotDatabase(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const parts: string[] = [];
    for (const table of ['app_user', 'otp_challenge', 'auth_session', 'refresh_token', 'recovery_code']) {
      const { rows } = await client.query(`select coalesce(string_agg(t::text, E'\\n' order by t::text), '') as dump from ${table} t`);
      parts.push(`${table}:\n${rows[0].dump}`);
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}
