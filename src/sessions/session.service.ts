import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { SessionLimits } from '../config/config';
import { AppError } from '../errors/app-error';
import { addSeconds, earliest, latest, type Clock } from '../time/clock';
import type { AccessClaims, TokenService } from '../tokens/token-service';
import { User } from '../users/user.entity';
import { firstCharacters, isUuid } from '../validation/text';
import { RefreshToken } from './refresh-token.entity';
import { hashRefreshToken, looksLikeRefreshToken, newRefreshToken } from './refresh-token';
import { AuthSession } from './session.entity';
import type { SessionRepository } from './session.repository';

/** Who is asking, as the HTTP layer saw it. */
export interface ClientInfo {
  ip: string;
  userAgent?: string;
}

/** What a sign-in, a refresh or a step-up hands the client. */
export interface SessionGrant {
  accessToken: string;
  expiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  session: AuthSession;
  user: User;
}

/** A bearer request's caller: the token's claims, and the user, read with the session check. */
export interface Viewer extends AccessClaims {
  user: User;
}

/** At most this many characters of a User-Agent are kept (contract). */
const USER_AGENT_LENGTH = 256;

/**
 * Sessions and their refresh-token chains. A session begins at a sign-in, is renewed by rotating
 * its refresh token, and ends by logout, revocation, reuse of a rotated token, or expiry.
 */
export class SessionService {
  constructor(
    private readonly deps: {
      sessions: SessionRepository;
      tokens: TokenService;
      clock: Clock;
      limits: SessionLimits;
      logger: Logger;
    },
  ) {}

  private get em(): EntityManager {
    return this.deps.sessions.getEntityManager();
  }

  /**
   * A new session and its first refresh token. Joins the caller's transaction when there is one,
   * so a sign-in's other writes (the challenge consumed) commit with it or not at all.
   */
  async begin(user: User, amr: string[], client: ClientInfo): Promise<SessionGrant> {
    const { clock, limits } = this.deps;
    const now = clock.now();
    const session = this.em.create(AuthSession, {
      user,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: addSeconds(now, limits.sessionMaxTtlSeconds),
      idleExpiresAt: now,
      authenticatedAt: now,
      amr,
      userAgent: client.userAgent ? firstCharacters(client.userAgent, USER_AGENT_LENGTH) : null,
      ipAddress: client.ip,
    });
    const refresh = this.chain(session, null, now, client);
    await this.em.flush();
    return this.grant(session, refresh);
  }

  /**
   * Rotation: the presented token is used up and a new one issued, in one transaction that holds
   * the session's row. A used-up token presented again within the grace period
   * (two tabs racing) gets a pair of its own for the same session; later, it ends the session.
   */
  async refresh(presentedToken: unknown, client: ClientInfo): Promise<SessionGrant> {
    if (!looksLikeRefreshToken(presentedToken)) throw new AppError('UNAUTHENTICATED', { cause: new Error('not a refresh token') });
    const { sessions, clock, limits, logger } = this.deps;
    const now = clock.now();
    const outcome = await this.em.transactional(async (tx) => {
      const hash = hashRefreshToken(presentedToken);
      const session = await sessions.lockByRefreshToken(hash);
      const presented = session && (await sessions.findRefreshToken(hash));
      if (!session || !presented) return { kind: 'refused', cause: 'unknown refresh token' } as const;
      if (!canMintTokens(session, now)) return { kind: 'refused', cause: 'session expired' } as const;
      // A used-up token after the grace period is a copy in other hands, whether or not it has
      // expired since: the session ends. (Used-up tokens are kept as long as their session.)
      if (presented.usedAt && now.getTime() > presented.usedAt.getTime() + limits.refreshReuseGraceSeconds * 1000) {
        await tx.nativeDelete(AuthSession, { id: session.id });
        return { kind: 'reused', sessionId: session.id, userId: session.user.id } as const;
      }
      if (presented.expiresAt <= now) return { kind: 'refused', cause: 'refresh token expired' } as const;
      presented.usedAt ??= now;
      const refresh = this.chain(session, presented.tokenHash, now, client);
      return { kind: 'rotated', session, refresh } as const;
    });
    if (outcome.kind === 'refused') throw new AppError('UNAUTHENTICATED', { cause: new Error(outcome.cause) });
    if (outcome.kind === 'reused') {
      logger.warn(
        { sessionId: outcome.sessionId, userId: outcome.userId },
        'a rotated refresh token was presented after the grace period: session ended',
      );
      throw new AppError('UNAUTHENTICATED', { cause: new Error('refresh token reuse') });
    }
    return this.grant(outcome.session, outcome.refresh);
  }

  /** The caller of a bearer request, refused once its session has ended. */
  async authenticate(accessToken: string): Promise<Viewer> {
    const claims = await this.deps.tokens.verifyAccess(accessToken);
    const user = await this.deps.sessions.findUserOfLiveSession(claims.sessionId, claims.userId, this.deps.clock.now());
    if (!user) throw new AppError('UNAUTHENTICATED', { cause: new Error('session ended') });
    return { ...claims, user };
  }

  /** The user's live sessions, newest first. */
  list(userId: string): Promise<AuthSession[]> {
    return this.deps.sessions.listLive(userId, this.deps.clock.now());
  }

  /** Ends one of the user's own live sessions; false for anything else (unknown, malformed, another user's). */
  async revoke(userId: string, sessionId: unknown): Promise<boolean> {
    if (!isUuid(sessionId)) return false;
    return (await this.end({ userId, sessionId })) > 0;
  }

  /** Ends sessions of a user: one, all, or all but one. Answers how many ended. */
  async end(where: { userId: string; sessionId?: string; except?: string }): Promise<number> {
    const ended = await this.deps.sessions.end(where, this.deps.clock.now());
    if (ended > 0) this.deps.logger.info({ userId: where.userId, sessionId: where.sessionId, ended }, 'sessions ended');
    return ended;
  }

  /** A new refresh token for the session (its next link), renewing the session's idle end. */
  private chain(session: AuthSession, previousHash: string | null, now: Date, client: ClientInfo): { token: string; expiresAt: Date } {
    const { token, hash } = newRefreshToken();
    const lifetimeEnd = addSeconds(now, this.deps.limits.refreshTokenTtlSeconds);
    const expiresAt = earliest(lifetimeEnd, session.expiresAt);
    this.em.create(RefreshToken, { tokenHash: hash, session, previousHash, createdAt: now, expiresAt, usedAt: null });
    session.lastUsedAt = now;
    session.ipAddress = client.ip;
    session.idleExpiresAt = latest(session.idleExpiresAt, expiresAt);
    return { token, expiresAt };
  }

  /** No token of a session outlives it: the access token ends with the refresh token at the latest. */
  private async grant(session: AuthSession, refresh: { token: string; expiresAt: Date }): Promise<SessionGrant> {
    const user = session.user;
    const access = await this.deps.tokens.issueAccess(
      { userId: user.id, sessionId: session.id, amr: session.amr, authTime: session.authenticatedAt },
      refresh.expiresAt,
    );
    return {
      accessToken: access.token,
      expiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshExpiresAt: refresh.expiresAt,
      session,
      user,
    };
  }
}

/**
 * Live, and with at least a whole second left: an access token's `exp` is a whole second no later
 * than the session's end, so a session in its last fraction of a second could only mint a token
 * that is expired on arrival.
 */
function canMintTokens(session: AuthSession, now: Date): boolean {
  const end = Math.min(session.expiresAt.getTime(), session.idleExpiresAt.getTime());
  return Math.floor(end / 1000) * 1000 > now.getTime();
}
