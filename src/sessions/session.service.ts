import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { afterStatementsSent } from '../db/prepared';
import { inTransaction } from '../db/transaction';
import type { AuditEntry, AuditTrail } from '../audit/audit-trail';
import { AuthEventType } from '../audit/auth-event.entity';
import type { Logger } from 'pino';
import type { SessionLimits } from '../config/config';
import { AppError } from '../errors/app-error';
import type { ClientInfo } from '../http/client-info';
import { addSeconds, earliest, latest, type Clock, wholeSeconds } from '../time/clock';
import type { AccessClaims, TokenService } from '../tokens/token-service';
import { User, type UserRecord } from '../users/user.entity';
import { isUuid } from '../validation/text';
import { RefreshToken } from './refresh-token.entity';
import { hashRefreshToken, looksLikeRefreshToken, newRefreshToken } from './refresh-token';
import { AuthSession } from './session.entity';
import type { SessionRepository } from './session.repository';

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
  /** Plain data, not a managed entity (read without the ORM on every bearer request). */
  user: UserRecord;
}

/**
 * Sessions and their refresh-token chains. A session begins at a sign-in, is renewed by rotating
 * its refresh token, and ends by logout, revocation, reuse of a rotated token, or expiry.
 */
export class SessionService {
  constructor(
    private readonly deps: {
      sessions: SessionRepository;
      tokens: TokenService;
      audit: AuditTrail;
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
    const { session, refresh } = this.newSession(amr, client);
    // One statement for both rows (every sign-in runs it), while the access token is signed: the
    // grant is handed out only once both are done.
    const [opened, access] = await Promise.all([
      this.deps.sessions.open({ ...session, user }, { tokenHash: refresh.hash, expiresAt: refresh.expiresAt }),
      afterStatementsSent().then(() => this.issueAccess({ ...session, user }, refresh)),
    ]);
    return this.grantOf(opened, refresh, access);
  }

  /**
   * `begin` for a sign-in whose code was just accepted, outside any transaction: challenge
   * `challengeId` spent, the phone marked verified, the session opened and the event (`event`, for
   * the new session's id) written, in one statement (`SessionRepository.openOnCode`). Null when the
   * challenge was no longer live: nothing changed.
   */
  async beginOnCode(
    challengeId: string,
    userId: string,
    amr: string[],
    client: ClientInfo,
    event: (sessionId: string) => AuditEntry,
  ): Promise<SessionGrant | null> {
    const { session, refresh } = this.newSession(amr, client);
    const [opened, access] = await Promise.all([
      this.deps.sessions.openOnCode(challengeId, session, { tokenHash: refresh.hash }, this.deps.audit.valuesOf(event(session.id))),
      afterStatementsSent().then(() => this.issueAccess({ ...session, user: { id: userId } }, refresh)),
    ]);
    return opened && this.grantOf(opened.session, refresh, access);
  }

  /** A session begun now and its first refresh token, which sets its idle end. */
  private newSession(amr: string[], client: ClientInfo) {
    const now = this.deps.clock.now();
    const expiresAt = addSeconds(now, this.deps.limits.sessionMaxTtlSeconds);
    const refresh = { ...newRefreshToken(), expiresAt: this.refreshTokenEnd(now, expiresAt) };
    const session = {
      id: randomUUID(),
      createdAt: now,
      authenticatedAt: now,
      expiresAt,
      idleExpiresAt: refresh.expiresAt,
      amr,
      userAgent: client.userAgent ?? null,
      ipAddress: client.ip,
    };
    return { session, refresh };
  }

  /**
   * Rotation: the presented token is used up and a new one issued, in one transaction that holds
   * the session's row. A used-up token presented again within the grace period
   * (two tabs racing) gets a pair of its own for the same session; later, it ends the session.
   */
  async refresh(presentedToken: unknown, client: ClientInfo): Promise<SessionGrant> {
    if (!looksLikeRefreshToken(presentedToken)) throw new AppError('UNAUTHENTICATED', { cause: new Error('not a refresh token') });
    const { sessions, audit, clock, limits, logger } = this.deps;
    const now = clock.now();
    const outcome = await inTransaction(this.em, async (tx) => {
      const hash = hashRefreshToken(presentedToken);
      const session = await sessions.lockByRefreshToken(hash);
      const presented = session && (await sessions.findRefreshToken(hash));
      if (!session || !presented) return { kind: 'refused', cause: 'unknown refresh token' } as const;
      if (!canMintTokens(session, now)) return { kind: 'refused', cause: 'session expired' } as const;
      // A used-up token after the grace period is a copy in other hands, whether or not it has
      // expired since: the session ends. (Used-up tokens are kept as long as their session.)
      if (presented.usedAt && now.getTime() > presented.usedAt.getTime() + limits.refreshReuseGraceSeconds * 1000) {
        await tx.nativeDelete(AuthSession, { id: session.id });
        await audit.record({
          type: AuthEventType.SESSION_REUSE_DETECTED,
          userId: session.user.id,
          sessionId: session.id,
          client,
          detail: 'reuse of a rotated refresh token: session ended',
        });
        return { kind: 'reused', sessionId: session.id, userId: session.user.id } as const;
      }
      if (presented.expiresAt <= now) return { kind: 'refused', cause: 'refresh token expired' } as const;
      presented.usedAt ??= now;
      const refresh = this.chain(session, presented.tokenHash, now, client);
      await audit.record({ type: AuthEventType.SESSION_REFRESHED, userId: session.user.id, sessionId: session.id, client });
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
    if (!user) throw sessionEnded();
    return { ...claims, user };
  }

  /** The user's live sessions, newest first. */
  list(userId: string): Promise<AuthSession[]> {
    return this.deps.sessions.listLive(userId, this.deps.clock.now());
  }

  /**
   * The second factor proven again in a live session (step-up, phone change): `authenticatedAt`
   * is now, and a new pair replaces the session's refresh tokens, which are used up as by a
   * refresh (the grace rule applies to them). Joins the caller's transaction.
   */
  async stepUp(sessionId: string, userId: string, amr: string[], client: ClientInfo): Promise<SessionGrant> {
    const now = this.deps.clock.now();
    const session = await this.deps.sessions.lockLive(sessionId, userId, now);
    if (!session) throw sessionEnded();
    await this.em.nativeUpdate(RefreshToken, { session: session.id, usedAt: null }, { usedAt: now });
    session.authenticatedAt = now;
    session.amr = amr;
    const refresh = this.chain(session, null, now, client);
    await this.em.flush();
    return this.grant(session, refresh);
  }

  /** Account changes need a second factor proven within the step-up window, in the caller's session. */
  async requireRecentSecondFactor(viewer: Viewer): Promise<void> {
    const { sessions, clock, limits } = this.deps;
    const session = await sessions.findOne({ id: viewer.sessionId, user: viewer.userId }, { fields: ['authenticatedAt'] });
    const oldest = addSeconds(clock.now(), -limits.stepUpMaxAgeSeconds);
    if (!session || session.authenticatedAt < oldest) throw new AppError('REAUTHENTICATION_REQUIRED');
  }

  /** `logout`: the caller's own session. */
  async logout(viewer: Viewer, client: ClientInfo): Promise<void> {
    await inTransaction(this.em, async () => {
      await this.end({ userId: viewer.userId, sessionId: viewer.sessionId });
      await this.deps.audit.record({ type: AuthEventType.LOGGED_OUT, userId: viewer.userId, sessionId: viewer.sessionId, client });
    });
  }

  /** `logoutEverywhere`: every session of the user; answers how many ended. */
  logoutEverywhere(viewer: Viewer, client: ClientInfo): Promise<number> {
    return inTransaction(this.em, async () => {
      const ended = await this.end({ userId: viewer.userId });
      const detail = `every session (${ended.length})`;
      await this.deps.audit.record({ type: AuthEventType.LOGGED_OUT, userId: viewer.userId, sessionId: viewer.sessionId, client, detail });
      return ended.length;
    });
  }

  /** One of the user's own live sessions; false for anything else (unknown, malformed, another user's), which changes nothing. */
  async revoke(viewer: Viewer, sessionId: unknown, client: ClientInfo): Promise<boolean> {
    if (!isUuid(sessionId)) return false;
    return inTransaction(this.em, async () => {
      const ended = await this.endRecorded({ userId: viewer.userId, sessionId }, client, `revoked from session ${viewer.sessionId}`);
      return ended.length > 0;
    });
  }

  /** Every session of the user but `keep` (a password change); each ended one is recorded. Joins the caller's transaction. */
  endOthers(userId: string, keep: string, client: ClientInfo, reason: string): Promise<string[]> {
    return this.endRecorded({ userId, except: keep }, client, reason);
  }

  /**
   * Holds every session of the viewer's user until the caller's transaction ends: deleting the
   * account takes them before the user's row, in the order a refresh takes its locks (see
   * `lockAllOf`). UNAUTHENTICATED when the viewer's own session ended since the request began.
   */
  async holdAllOf(viewer: Viewer): Promise<void> {
    const { live } = await this.deps.sessions.lockAllOf(viewer.userId, this.deps.clock.now());
    if (!live.includes(viewer.sessionId)) throw sessionEnded();
  }

  /**
   * Holds the viewer's session until the caller's transaction ends, or UNAUTHENTICATED when it
   * ended since the request began (logout, a revocation, a password change elsewhere): a change
   * that began with a session must not commit after it ended (attack review: a revoked session's
   * changePassword, a bcrypt compare long, committed and ended the session that revoked it). A key
   * share lock: only the session's deletion waits for it (see `holdLive`).
   */
  async holdViewer(viewer: Viewer): Promise<void> {
    if (!(await this.deps.sessions.holdLive(viewer.sessionId, viewer.userId, this.deps.clock.now()))) throw sessionEnded();
  }

  private async endRecorded(where: { userId: string; sessionId?: string; except?: string }, client: ClientInfo, detail: string): Promise<string[]> {
    const ended = await this.end(where);
    for (const sessionId of ended) {
      await this.deps.audit.record({ type: AuthEventType.SESSION_REVOKED, userId: where.userId, sessionId, client, detail });
    }
    return ended;
  }

  private async end(where: { userId: string; sessionId?: string; except?: string }): Promise<string[]> {
    const ended = await this.deps.sessions.end(where, this.deps.clock.now());
    if (ended.length > 0) this.deps.logger.info({ userId: where.userId, sessions: ended }, 'sessions ended');
    return ended;
  }

  /** A new refresh token for the session (its next link), renewing the session's idle end. */
  private chain(session: AuthSession, previousHash: string | null, now: Date, client: ClientInfo): { token: string; expiresAt: Date } {
    const { token, hash } = newRefreshToken();
    const expiresAt = this.refreshTokenEnd(now, session.expiresAt);
    this.em.create(RefreshToken, { tokenHash: hash, session, previousHash, createdAt: now, expiresAt, usedAt: null });
    session.lastUsedAt = now;
    session.ipAddress = client.ip;
    session.idleExpiresAt = latest(session.idleExpiresAt, expiresAt);
    return { token, expiresAt };
  }

  /** A refresh token made now: its lifetime, within the session's absolute end. */
  private refreshTokenEnd(now: Date, sessionEnd: Date): Date {
    return earliest(addSeconds(now, this.deps.limits.refreshTokenTtlSeconds), sessionEnd);
  }

  /** No token of a session outlives it: the access token ends with the refresh token at the latest. */
  private grant(session: AuthSession, refresh: { token: string; expiresAt: Date }): SessionGrant {
    return this.grantOf(session, refresh, this.issueAccess(session, refresh));
  }

  private issueAccess(session: Pick<AuthSession, 'id' | 'amr' | 'authenticatedAt'> & { user: { id: string } }, refresh: { expiresAt: Date }) {
    const claims = { userId: session.user.id, sessionId: session.id, amr: session.amr, authTime: session.authenticatedAt };
    return this.deps.tokens.issueAccess(claims, refresh.expiresAt);
  }

  private grantOf(session: AuthSession, refresh: { token: string; expiresAt: Date }, access: { token: string; expiresAt: Date }): SessionGrant {
    return {
      accessToken: access.token,
      expiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshExpiresAt: refresh.expiresAt,
      session,
      user: session.user,
    };
  }
}

/**
 * Live, and with at least a whole second left: an access token's `exp` is a whole second no later
 * than the session's end, so a session in its last fraction of a second could only mint a token
 * that is expired on arrival.
 */
function canMintTokens(session: AuthSession, now: Date): boolean {
  return wholeSeconds(earliest(session.expiresAt, session.idleExpiresAt)) > now;
}

function sessionEnded(): AppError {
  return new AppError('UNAUTHENTICATED', { cause: new Error('session ended') });
}
