import { EntityRepository, LockMode } from '@mikro-orm/postgresql';
import { RefreshToken } from './refresh-token.entity';
import type { AuthSession } from './session.entity';

/** Live: neither its absolute nor its idle end has passed (ended sessions are deleted). */
export function liveAt(now: Date) {
  return { expiresAt: { $gt: now }, idleExpiresAt: { $gt: now } };
}

export class SessionRepository extends EntityRepository<AuthSession> {
  /** The live session behind an access token, with its user: one query for every bearer request. */
  findLive(sessionId: string, userId: string, now: Date): Promise<AuthSession | null> {
    return this.findOne({ id: sessionId, user: userId, ...liveAt(now) }, { populate: ['user'] });
  }

  listLive(userId: string, now: Date): Promise<AuthSession[]> {
    return this.find({ user: userId, ...liveAt(now) }, { orderBy: { createdAt: 'desc', id: 'desc' } });
  }

  /**
   * A refresh token with its session and user, both rows locked until the transaction ends:
   * concurrent refreshes of one session take turns, so each sees what the one before did.
   */
  lockRefreshToken(tokenHash: string): Promise<RefreshToken | null> {
    return this.em
      .createQueryBuilder(RefreshToken, 'rt')
      .select('*')
      .joinAndSelect('rt.session', 's')
      .joinAndSelect('s.user', 'u')
      .where({ tokenHash })
      .setLockMode(LockMode.PESSIMISTIC_WRITE, ['rt', 's'])
      .getSingleResult();
  }

  /** Ends live sessions of a user (one, or all but `except`): deleted with their refresh tokens. */
  async end(where: { userId: string; sessionId?: string; except?: string }, now: Date): Promise<number> {
    return this.nativeDelete({
      user: where.userId,
      ...(where.sessionId ? { id: where.sessionId } : where.except ? { id: { $ne: where.except } } : {}),
      ...liveAt(now),
    });
  }
}
