import { setImmediate } from 'node:timers/promises';
import { DeadlockException, type EntityManager, type Knex, TransactionContext } from '@mikro-orm/postgresql';

/** The part of a `pg` client this needs. */
interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** A named SQL statement: PostgreSQL parses and plans it once per connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * One named statement on the ORM's own pool, for what runs on every request or every sign-in
 * step: neither the query builder nor the unit of work runs. `knex` is the ORM's knex, or a knex
 * transaction, whose client hands out the transaction's own connection (see `sqlOf`).
 */
export async function queryPrepared<Row>(knex: Knex, statement: Statement, values: unknown[]): Promise<Row[]> {
  const client = knex.client;
  const connection = (await client.acquireConnection()) as PgConnection;
  try {
    return (await connection.query({ ...statement, values })).rows as Row[];
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Resolves at the event loop's next turn, when statements started before it have gone out to
 * PostgreSQL: CPU work meant to overlap a statement (a token's signature holds the thread for about
 * 0.2 ms) waits for it, or the statement would wait for that work before it is even sent.
 */
export function afterStatementsSent(): Promise<void> {
  return setImmediate();
}

/**
 * The transaction `em`'s statements run in, if any, found without resolving the request's
 * EntityManager. This service opens transactions only with `em.transactional`
 * (src/db/transaction.ts), whose fork the ORM's own transaction context holds while the work runs;
 * `em.getTransactionContext()` would first fork the request's unit of work (about 0.1 ms of a
 * login's CPU here) only to learn that a fresh fork is in no transaction.
 */
export function transactionOf(em: EntityManager): Knex.Transaction | undefined {
  return TransactionContext.getEntityManager(em.name)?.getTransactionContext<Knex.Transaction>();
}

/** Where `em`'s statements run: its transaction when it is in one, else the pool. */
export function sqlOf(em: EntityManager): Knex {
  return transactionOf(em) ?? em.getKnex();
}

/**
 * `queryPrepared` where `em` is: inside its transaction, if any. A statement alone that PostgreSQL
 * picked as a deadlock's victim was rolled back whole, so it runs again, as a transaction does
 * (`retryingDeadlocks`): two requests of one user can lock the same rows in different orders (a
 * step-up's challenge locks the user's row, then its session; deleting the account, the sessions,
 * then the user).
 */
export function queryIn<Row>(em: EntityManager, statement: Statement, values: unknown[]): Promise<Row[]> {
  const transaction = transactionOf(em);
  if (transaction) return queryPrepared<Row>(transaction, statement, values);
  return retryingDeadlocks(em, () => queryPrepared<Row>(em.getKnex(), statement, values));
}

const DEADLOCK_ATTEMPTS = 3;

/**
 * `attempt` run again, up to 3 times in all, when PostgreSQL picks it as a deadlock's victim (its
 * changes were rolled back, so running it again is safe). Inside an outer transaction nothing is
 * retried: the outer one is aborted as a whole, and its own caller decides.
 */
export async function retryingDeadlocks<T>(em: EntityManager, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      // The ORM's statements raise its DeadlockException, named statements the driver's error.
      const deadlock = error instanceof DeadlockException || sqlStateOf(error) === SQLSTATE.deadlockDetected;
      const retryable = deadlock && tries < DEADLOCK_ATTEMPTS && !transactionOf(em);
      if (!retryable) throw error;
    }
  }
}

/**
 * A FROM item that turns off waiting for the write-ahead log's flush at its statement's commit, for
 * statements whose logged writes need no durability of their own (see AuditTrail's `Commit`).
 * set_config(…, true) is SET LOCAL: it holds until the statement's own (implicit) transaction commits.
 */
export const UNFLUSHED = `(select set_config('synchronous_commit', 'off', true)) as unflushed`;

/** Runs a statement somewhere: `queryIn` for an EntityManager, or with an audit event (`AuditTrail.recordWith`). */
export type StatementRunner = <Row>(statement: Statement, values: unknown[]) => Promise<Row[]>;

/** PostgreSQL's SQLSTATE on an error of a named statement (the ORM wraps its own errors; these come as the driver raised them). */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export const SQLSTATE = { uniqueViolation: '23505', foreignKeyViolation: '23503', deadlockDetected: '40P01' } as const;
