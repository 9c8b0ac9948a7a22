import { EntityRepository, LockMode } from '@mikro-orm/postgresql';
import { queryIn, queryPrepared, type Statement } from '../db/prepared';
import { eventAfter } from '../audit/audit-trail';
import { consumeChallenge } from '../otp/otp-challenge.repository';
import { User, type UserRecord } from '../users/user.entity';
import { phoneVerifiedUser, USER_RECORD_COLUMNS, type UserRow, userRecordOf } from '../users/user.repository';
import { RefreshToken } from './refresh-token.entity';
import { AuthSession } from './session.entity';
import { liveAt, liveSessionSql } from './session-liveness';

const HOLD_LIVE: Statement = {
  name: 'auth_session_hold_live',
  text: `select 1 from auth_session where id = $1 and user_id = $2 and ${liveSessionSql('$3')} for key share`,
};

const USER_OF_LIVE_SESSION = {
  name: 'user_of_live_session',
  text: `select ${USER_RECORD_COLUMNS}
    from app_user u
    where u.id = $1
      and exists (select 1 from auth_session s where s.id = $2 and s.user_id = u.id and ${liveSessionSql('$3', 's.')})`,
};

/**
 * A session and its first refresh token, as CTEs `s` and `t` of one statement: $1 its id, `user`
 * the user's id (`from`: where it comes from), $3 now (its start, last use and second factor), $4
 * its end, $5 its idle end (the token's end), $6 amr, $7 user agent, $8 address, $9 the token's hash.
 */
const sessionWithToken = (user: string, from = '') => `s as (
      insert into auth_session (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, authenticated_at, amr, user_agent, ip_address)
      select $1, ${user}, $3, $3, $4, $5, $3, $6, $7, $8 ${from} returning *),
    t as (insert into refresh_token (token_hash, session_id, created_at, expires_at) select $9, id, $3, $5 from s)`;

/** A new session and its first refresh token, in one statement ($2 the user). */
const OPEN: Statement = { name: 'auth_session_open', text: `with ${sessionWithToken('$2')} select * from s` };

/**
 * A sign-in completed by a code, in one statement: challenge $2 spent (if still live), its user's
 * phone marked verified, the session and its first refresh token (`sessionWithToken`), and the
 * audit event (from $10 on). Nothing happens unless the challenge was live; answers the user and
 * the session, or no row.
 */
const OPEN_ON_CODE: Statement = {
  name: 'auth_session_open_on_code',
  text: `with c as (${consumeChallenge('$2', '$3')} returning user_id),
    ${phoneVerifiedUser('u', '(select user_id from c)', '$3')},
    ${sessionWithToken('u.id', 'from u')},
    ${eventAfter('s', 10)}
    select to_jsonb(u) as user, to_jsonb(s) as session from u, s`,
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
   * `open` for a sign-in whose code was just accepted (`OPEN_ON_CODE`): the challenge spent, the
   * phone marked verified, the session and its refresh token opened and `event` written, as one
   * statement outside any transaction. Null when the challenge was no longer live (nothing changed).
   */
  async openOnCode(
    challengeId: string,
    session: Pick<AuthSession, 'id' | 'createdAt' | 'expiresAt' | 'idleExpiresAt' | 'amr' | 'userAgent' | 'ipAddress'>,
    refreshToken: { tokenHash: string },
    event: unknown[],
  ): Promise<{ user: User; session: AuthSession } | null> {
    const { id, createdAt, expiresAt, idleExpiresAt, amr, userAgent, ipAddress } = session;
    const values = [id, challengeId, createdAt, expiresAt, idleExpiresAt, amr, userAgent ?? null, ipAddress ?? null, refreshToken.tokenHash];
    const [row] = await queryIn<{ user: Record<string, unknown>; session: Record<string, unknown> }>(this.em, OPEN_ON_CODE, [...values, ...event]);
    if (!row) return null;
    // The user first: the session's reference then resolves to it.
    const user = this.em.map(User, row.user);
    return { user, session: this.em.map(AuthSession, row.session) };
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

  /**
   * Every session of the user, their rows locked until the transaction ends, in one order (by id).
   * Deleting the account takes them before the user's row, as a refresh takes its session before
   * its writes lock the user's row: the two take turns instead of deadlocking.
   */
  async lockAllOf(userId: string, now: Date): Promise<{ live: string[] }> {
    const rows: Array<{ id: string; live: boolean }> = await this.em.execute(
      `select id, ${liveSessionSql('?')} as live from auth_session where user_id = ? order by id for update`,
      [now, now, userId],
    );
    return { live: rows.filter((row) => row.live).map((row) => row.id) };
  }

  /**
   * Whether the user's session is live, holding it (FOR KEY SHARE) until the transaction ends: a
   * revocation, logout or password change elsewhere, which deletes it, waits for the commit, while
   * a refresh's update of it and foreign-key checks against it do not (nor is the user's row locked).
   */
  async holdLive(sessionId: string, userId: string, now: Date): Promise<boolean> {
    return (await queryIn(this.em, HOLD_LIVE, [sessionId, userId, now])).length > 0;
  }

  /** A live session of the user, its row locked until the transaction ends (step-up, phone change). */
  lockLive(sessionId: string, userId: string, now: Date): Promise<AuthSession | null> {
    return this.findOne({ id: sessionId, user: userId, ...liveAt(now) }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['user'] });
  }

  /** Ends live sessions of a user (one, all, or all but `except`): deleted with their refresh tokens. Answers their ids. */
  async end(where: { userId: string; sessionId?: string; except?: string }, now: Date): Promise<string[]> {
    const conditions = ['user_id = ?', liveSessionSql('?')];
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
