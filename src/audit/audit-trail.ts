import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { queryIn, queryPrepared, SQLSTATE, sqlOf, sqlStateOf, type Statement, transactionOf, UNFLUSHED } from '../db/prepared';
import type { Logger } from 'pino';
import { badInput } from '../errors/app-error';
import type { ClientInfo } from '../http/client-info';
import { ipBucket } from '../rate-limits/ip-bucket';
import { signedInFrom } from './signed-in-from';
import type { Clock } from '../time/clock';
import { isUuid } from '../validation/text';
import { AuthEvent, type AuthEventType } from './auth-event.entity';

export interface AuditEntry {
  type: AuthEventType;
  userId: string;
  sessionId?: string | null;
  client?: ClientInfo;
  /** A channel, a masked number, a short reason: never a secret or a full number. */
  detail?: string;
}

/**
 * `flushed` answers once the event is on disk. `unflushed` answers once it is committed, visible to
 * every reader, but not yet flushed from PostgreSQL's write-ahead log buffers (synchronous_commit
 * off for this statement's transaction), about 0.4 ms sooner here, and without the flush's disk
 * wait: for an event about a pending challenge (a code sent; a login's accepted password, which
 * OtpChallengeRepository.recordWhilePending writes the same way), which shares the challenge's
 * fate. Challenges live in an unlogged table that a PostgreSQL crash empties, and their events may
 * go with them: those committed within the last 0.6 s of a crash (three wal_writer_delay). Outside a transaction only; in one, the transaction's commit decides.
 */
export type Commit = 'flushed' | 'unflushed';

export interface AuthEventPage {
  events: Array<{ cursor: string; event: AuthEvent }>;
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** An event's columns, in the order of `AuditTrail.valuesOf`. */
const EVENT_COLUMNS = ['id', 'user_id', 'type', 'at', 'ip_address', 'ip_network', 'user_agent', 'session_id', 'detail'];

/** An event's insert, its values bound from placeholder `$first` on. */
const insertEvent = (first: number) =>
  `insert into auth_event (${EVENT_COLUMNS.join(', ')}) values (${EVENT_COLUMNS.map((_, i) => `$${first + i}`).join(', ')})`;

const INSERT_EVENT: Statement = { name: 'auth_event_insert', text: insertEvent(1) };

/**
 * An event as CTE `event` of a statement that makes the change it records: written once per row of
 * CTE `source` (so only if the change happened), its values (`AuditTrail.valuesOf`) bound from `$first` on.
 */
export const eventAfter = (source: string, first: number) =>
  `event as (insert into auth_event (${EVENT_COLUMNS.join(', ')}) select ${EVENT_COLUMNS.map((_, i) => `$${first + i}`).join(', ')} from ${source})`;

const SIGNED_IN_FROM: Statement = {
  name: 'auth_event_signed_in_from',
  text: `select ${signedInFrom('u.id', '$2')} as known from app_user u where u.email_canonical = $1`,
};

/**
 * An event in the caller's transaction is written inside a savepoint: its failure leaves the
 * transaction usable. The savepoint is not released (one round trip less): the commit releases it,
 * and a later event's savepoint of the same name shadows it.
 */
const SAVEPOINT = {
  set: { name: 'auth_event_savepoint', text: 'savepoint auth_event' },
  rollback: { name: 'auth_event_rollback', text: 'rollback to savepoint auth_event' },
} satisfies Record<string, Statement>;
const CURSOR_PREFIX = 'ae1|';

/**
 * The users' audit trail. An event is written in the caller's transaction when there is one, so it
 * commits with the change it records, inside a savepoint of its own: if the event cannot be
 * written (the table unavailable, say), the savepoint is rolled back, one error line is logged,
 * and the change itself goes on. A sign-in never fails because of its audit line.
 */
export class AuditTrail {
  /** `recordWith`'s statements, made once per change statement and commit (a handful, fixed in code). */
  private readonly withEvent = new Map<string, Statement>();

  constructor(private readonly deps: { em: EntityManager; clock: Clock; logger: Logger }) {}

  async record(entry: AuditEntry): Promise<void> {
    const { em } = this.deps;
    // A plain insert, outside the unit of work: it must not flush (or be flushed with) anything else.
    const sql = sqlOf(em);
    const inTransaction = transactionOf(em) !== undefined;
    try {
      if (inTransaction) await queryPrepared(sql, SAVEPOINT.set, []);
      await queryPrepared(sql, INSERT_EVENT, this.valuesOf(entry));
    } catch (err) {
      // A deadlock's victim inside a transaction fails the transaction, which runs again whole
      // (`retryingDeadlocks`), event included: rolled back to the savepoint, the change committed
      // without its event (attack review: a refresh racing a phone change on one session).
      if (inTransaction && sqlStateOf(err) === SQLSTATE.deadlockDetected) throw err;
      if (inTransaction) await queryPrepared(sql, SAVEPOINT.rollback, []).catch(() => {});
      this.lost(entry, err);
    }
  }

  /**
   * A change (one statement with RETURNING) and the event that records it, as one statement: both
   * commit, or neither, without a transaction's round trips. Should that statement fail, the change
   * is made alone and the event's loss logged, as `record` does. Inside a transaction (where a failed
   * statement would abort it), the change and then `record`. Answers the change's rows. (A change
   * that is itself a WITH list takes its event as one more CTE: `eventAfter`.)
   *
   * `commit`: see `Commit`.
   */
  async recordWith<Row>(change: Statement, values: unknown[], entry: AuditEntry, commit: Commit = 'flushed'): Promise<Row[]> {
    const { em } = this.deps;
    if (transactionOf(em) !== undefined) {
      const rows = await queryIn<Row>(em, change, values);
      await this.record(entry);
      return rows;
    }
    const name = commit === 'flushed' ? `${change.name}+event` : `${change.name}+event unflushed`;
    let withEvent = this.withEvent.get(name);
    if (!withEvent) {
      const from = commit === 'flushed' ? 'change' : `change, ${UNFLUSHED}`;
      withEvent = { name, text: `with change as (${change.text}), event as (${insertEvent(values.length + 1)}) select change.* from ${from}` };
      this.withEvent.set(name, withEvent);
    }
    try {
      return await queryIn<Row>(em, withEvent, [...values, ...this.valuesOf(entry)]);
    } catch (err) {
      // Nothing of that statement was kept: the change alone (if the change itself fails, that is the answer).
      const rows = await queryIn<Row>(em, change, values);
      this.lost(entry, err);
      return rows;
    }
  }

  /** An event's values, in the order of its columns (`eventAfter`). */
  valuesOf(entry: AuditEntry): unknown[] {
    return [
      randomUUID(),
      entry.userId,
      entry.type,
      this.deps.clock.now(),
      entry.client?.ip ?? null,
      entry.client ? ipBucket(entry.client.ip) : null,
      entry.client?.userAgent ?? null,
      entry.sessionId ?? null,
      entry.detail ?? null,
    ];
  }

  /**
   * The event of an operation that went on without it: one error line. One whose user or session
   * was deleted meanwhile (its foreign key: the account deleted while a login ran, say) has nothing
   * left to describe and would be deleted with them: an info line, not the error that says the
   * trail is unavailable.
   */
  lost(entry: AuditEntry, err: unknown): void {
    if (sqlStateOf(err) === SQLSTATE.foreignKeyViolation) {
      this.deps.logger.info({ eventType: entry.type, userId: entry.userId }, 'audit event not written: its user or session was deleted meanwhile');
      return;
    }
    this.deps.logger.error({ err, eventType: entry.type, userId: entry.userId }, 'audit event could not be written; the operation itself went on');
  }

  /**
   * Whether the account behind this canonical email has completed a sign-in (or a step-up, or a
   * refresh) from this network. One query whether or not the account exists.
   */
  async hasSignedInFrom(emailCanonical: string, ip: string): Promise<boolean> {
    // No address with a control character exists (register refuses them), and PostgreSQL refuses NUL.
    if (/\p{Cc}/u.test(emailCanonical)) return false;
    const { em } = this.deps;
    try {
      const [row] = await queryIn<{ known: boolean }>(em, SIGNED_IN_FROM, [emailCanonical, ipBucket(ip)]);
      return Boolean(row?.known);
    } catch (err) {
      this.unreadable(err);
      return false;
    }
  }

  /** The trail could not be read: the network counts as new (the stricter budget), and sign-in goes on. */
  unreadable(err: unknown): void {
    this.deps.logger.error({ err }, 'audit trail unavailable: every network is treated as new for the login ceiling');
  }

  /** Newest first (insertion order); `after` is a cursor this service gave out for this user. */
  async page(userId: string, first: number, after?: string | null): Promise<AuthEventPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw badInput('first', `first must be from 1 to ${MAX_PAGE_SIZE}.`);
    const { em } = this.deps;
    let before: string | undefined;
    if (after !== undefined && after !== null) {
      const from = await em.findOne(AuthEvent, { id: decodeCursor(after), user: userId }, { fields: ['seq'] });
      if (!from) throw notOurCursor();
      before = from.seq;
    }
    const rows = await em.find(
      AuthEvent,
      { user: userId, ...(before ? { seq: { $lt: before } } : {}) },
      { orderBy: { seq: 'desc' }, limit: first + 1 },
    );
    return {
      events: rows.slice(0, first).map((event) => ({ cursor: encodeCursor(event.id), event })),
      hasNextPage: rows.length > first,
    };
  }
}

/** Opaque to clients: a version tag and the event id, nothing that reveals how many events exist. */
function encodeCursor(eventId: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${eventId}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (typeof cursor !== 'string' || cursor.length > 100 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw notOurCursor();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.slice(CURSOR_PREFIX.length);
  if (!text.startsWith(CURSOR_PREFIX) || !isUuid(id) || encodeCursor(id) !== cursor) throw notOurCursor();
  return id;
}

function notOurCursor() {
  return badInput('after', 'after must be a cursor from a previous page of authEvents.');
}
