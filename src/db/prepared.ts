import type { Knex } from '@mikro-orm/postgresql';

/** The part of a `pg` client this needs. */
interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * One named statement on the ORM's own pool, for what runs on every request or every second: PostgreSQL
 * parses and plans it once per connection, and neither the query builder nor hydration runs.
 * Not for use inside a transaction (it takes a connection of its own from the pool).
 */
export async function queryPrepared<Row>(knex: Knex, statement: { name: string; text: string }, values: unknown[]): Promise<Row[]> {
  const client = knex.client;
  const connection = (await client.acquireConnection()) as PgConnection;
  try {
    return (await connection.query({ ...statement, values })).rows as Row[];
  } finally {
    await client.releaseConnection(connection);
  }
}
