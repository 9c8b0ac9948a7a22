import { EntityRepository, LockMode } from '@mikro-orm/postgresql';
import { queryPrepared } from '../db/prepared';
import type { UserRecord } from '../users/user.entity';
import { RefreshToken } from './refresh-token.entity';
import type { AuthSession } from './session.entity';

/** Live: neither its absolute nor its idle end has passed (ended sessions are deleted). */
export function liveAt(now: Date) {
  return { expiresAt: { $gt: now }, idleExpiresAt: { $gt: now } };
}

/** `liveAt` for a session in hand. */
export function isLive(session: AuthSession, now: Date): boolean {
  return session.expiresAt > now && session.idleExpiresAt > now;
}

const USER_OF_LIVE_SESSION = {
  name: 'user_of_live_session',
  text: `select u.id, u.email, u.email_canonical as "emailCanonical", u.phone_number as "phoneNumber",
      u.password_hash as "passwordHash", u.phone_verified_at as "phoneVerifiedAt", u.created_at as "createdAt", u.updated_at as "updatedAt"
    from app_user u
    where u.id = $1
      and exists (select 1 from auth_session s where s.id = $2 and s.user_id = u.id and s.expires_at > $3 and s.idle_expires_at > $3)`,
};

type UserRow = Omit<UserRecord, 'phoneVerifiedAt' | 'createdAt' | 'updatedAt'> & {
  phoneVerifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

export class SessionRepository extends EntityRepository<AuthSession> {
  /**
   * The user behind an access token, if its session is live: one prepared statement, the session
   * a primary-key probe inside it, the row read as a plain record (every bearer request runs this).
   */
  async findUserOfLiveSession(sessionId: string, userId: string, now: Date): Promise<UserRecord | null> {
    const [row] = await queryPrepared<UserRow>(this.em.getKnex(), USER_OF_LIVE_SESSION, [userId, sessionId, now]);
    if (!row) return null;
    // The ORM's pool leaves timestamps as text (the ORM parses them itself).
    const date = (value: string) => new Date(value);
    return {
      ...row,
      phoneVerifiedAt: row.phoneVerifiedAt === null ? null : date(row.phoneVerifiedAt),
      createdAt: date(row.createdAt),
      updatedAt: date(row.updatedAt),
    };
  }

  listLive(userId: string, now: Date): Promise<AuthSession[]> {
    return this.find({ user: userId, ...liveAt(now) }, { orderBy: { createdAt: 'desc', id: 'desc' } });
  }

  /**
   * The session a refresh token belongs to, with its user, locked until the transaction ends.
   * Everything that changes a session's tokens (rotation, reuse, logout, revocation) takes the
   * session's row first, so they take turns in one order and cannot deadlock.
   */
  lockByRefreshToken(tokenHash: string): Promise<AuthSession | null> {
    return this.createQueryBuilder('s')
      .select('*')
      .joinAndSelect('s.user', 'u')
      .where('s.id = (select rt.session_id from refresh_token rt where rt.token_hash = ?)', [tokenHash])
      .setLockMode(LockMode.PESSIMISTIC_WRITE, ['s'])
      .getSingleResult();
  }

  /** Read after the session's lock is held, so it reflects every rotation committed before. */
  findRefreshToken(tokenHash: string): Promise<RefreshToken | null> {
    return this.em.findOne(RefreshToken, { tokenHash }, { refresh: true });
  }

  /** A live session of the user, its row locked until the transaction ends (step-up, phone change). */
  lockLive(sessionId: string, userId: string, now: Date): Promise<AuthSession | null> {
    return this.findOne({ id: sessionId, user: userId, ...liveAt(now) }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['user'] });
  }

  /** Ends live sessions of a user (one, all, or all but `except`): deleted with their refresh tokens. Answers their ids. */
  async end(where: { userId: string; sessionId?: string; except?: string }, now: Date): Promise<string[]> {
    const conditions = ['user_id = ?', 'expires_at > ?', 'idle_expires_at > ?'];
    const params: unknown[] = [where.userId, now, now];
    if (where.sessionId) {
      conditions.push('id = ?');
      params.push(where.sessionId);
    }
    if (where.except) {
      conditions.push('id <> ?');
      params.push(where.except);
    }
    // The query builder drops RETURNING from a delete: plain SQL, in the caller's transaction if any.
    const rows = await this.em.execute<Array<{ id: string }>>(
      `delete from auth_session where ${conditions.join(' and ')} returning id`,
      params,
      'all',
    );
    return rows.map((row) => row.id);
  }
}
