import { EntityRepository, LockMode } from '@mikro-orm/postgresql';
import { queryIn, queryPrepared, type Statement } from '../db/prepared';
import type { UserRecord } from '../users/user.entity';
import { USER_RECORD_COLUMNS, type UserRow, userRecordOf } from '../users/user.repository';
import { RefreshToken } from './refresh-token.entity';
import { AuthSession } from './session.entity';

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
  text: `select ${USER_RECORD_COLUMNS}
    from app_user u
    where u.id = $1
      and exists (select 1 from auth_session s where s.id = $2 and s.user_id = u.id and s.expires_at > $3 and s.idle_expires_at > $3)`,
};

/** A new session and its first refresh token, in one statement. */
const OPEN: Statement = {
  name: 'auth_session_open',
  text: `with s as (
      insert into auth_session (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, authenticated_at, amr, user_agent, ip_address)
      values ($1, $2, $3, $3, $4, $5, $3, $6, $7, $8) returning *),
    t as (insert into refresh_token (token_hash, session_id, created_at, expires_at) select $9, id, $3, $5 from s)
    select * from s`,
};

export class SessionRepository extends EntityRepository<AuthSession> {
  /**
   * Inserts a session begun now (`createdAt`: also its last use and its second factor) with its first
   * refresh token (stored as its hash), in the caller's transaction if any: a sign-in's last step.
   */
  async open(
    session: Pick<AuthSession, 'id' | 'user' | 'createdAt' | 'expiresAt' | 'idleExpiresAt' | 'amr' | 'userAgent' | 'ipAddress'>,
    refreshToken: { tokenHash: string; expiresAt: Date },
  ): Promise<AuthSession> {
    const { id, user, createdAt, expiresAt, idleExpiresAt, amr, userAgent, ipAddress } = session;
    const [row] = await queryIn<Record<string, unknown>>(this.em, OPEN, [
      id,
      user.id,
      createdAt,
      expiresAt,
      idleExpiresAt,
      amr,
      userAgent ?? null,
      ipAddress ?? null,
      refreshToken.tokenHash,
    ]);
    return this.em.map(AuthSession, row);
  }

  /**
   * The user behind an access token, if its session is live: one prepared statement, the session
   * a primary-key probe inside it, the row read as a plain record (every bearer request runs this).
   */
  async findUserOfLiveSession(sessionId: string, userId: string, now: Date): Promise<UserRecord | null> {
    const [row] = await queryPrepared<UserRow>(this.em.getKnex(), USER_OF_LIVE_SESSION, [userId, sessionId, now]);
    return row ? userRecordOf(row) : null;
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
