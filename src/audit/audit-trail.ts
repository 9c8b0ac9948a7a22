import { randomUUID } from 'node:crypto';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { badInput } from '../errors/app-error';
import type { ClientInfo } from '../http/client-info';
import { ipBucket } from '../rate-limits/ip-bucket';
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

export interface AuthEventPage {
  events: Array<{ cursor: string; event: AuthEvent }>;
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 100;
const CURSOR_PREFIX = 'ae1|';

/**
 * The users' audit trail. An event is written in the caller's transaction when there is one, so it
 * commits with the change it records, inside a savepoint of its own: if the event cannot be
 * written (the table unavailable, say), the savepoint is rolled back, one error line is logged,
 * and the change itself goes on. A sign-in never fails because of its audit line.
 */
export class AuditTrail {
  constructor(private readonly deps: { em: EntityManager; clock: Clock; logger: Logger }) {}

  async record(entry: AuditEntry): Promise<void> {
    const { em, clock, logger } = this.deps;
    const row = {
      id: randomUUID(),
      user_id: entry.userId,
      type: entry.type,
      at: clock.now(),
      ip_address: entry.client?.ip ?? null,
      ip_network: entry.client ? ipBucket(entry.client.ip) : null,
      user_agent: entry.client?.userAgent ?? null,
      session_id: entry.sessionId ?? null,
      detail: entry.detail ?? null,
    };
    // A plain insert, outside the unit of work: it must not flush (or be flushed with) anything else.
    const transaction = em.getTransactionContext<Knex.Transaction>();
    try {
      if (transaction) await transaction.transaction((savepoint) => savepoint('auth_event').insert(row));
      else await em.getKnex()('auth_event').insert(row);
    } catch (err) {
      logger.error({ err, eventType: entry.type, userId: entry.userId }, 'audit event could not be written; the operation itself went on');
    }
  }

  /**
   * Whether the account behind this canonical email has completed a sign-in (or a step-up, or a
   * refresh) from this network. One query whether or not the account exists.
   */
  async hasSignedInFrom(emailCanonical: string, ip: string): Promise<boolean> {
    // No address with a control character exists (register refuses them), and PostgreSQL refuses NUL.
    if (/\p{Cc}/u.test(emailCanonical)) return false;
    try {
      const [row] = await this.deps.em.execute<Array<{ known: boolean }>>(
        `select exists (select 1 from auth_event e join app_user u on u.id = e.user_id
           where u.email_canonical = ? and e.ip_network = ? and e.type in ('OTP_VERIFIED', 'RECOVERY_CODE_USED', 'STEP_UP_VERIFIED', 'SESSION_REFRESHED')) as known`,
        [emailCanonical, ipBucket(ip)],
      );
      return Boolean(row?.known);
    } catch (err) {
      // The trail unavailable: the network counts as unknown (the stricter budget), and sign-in goes on.
      this.deps.logger.error({ err }, 'audit trail unavailable: every network is treated as new for the login ceiling');
      return false;
    }
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
