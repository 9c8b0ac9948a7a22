import type { Logger } from 'pino';
import { inTransaction } from '../db/transaction';
import type { AuditTrail } from '../audit/audit-trail';
import { AuthEventType } from '../audit/auth-event.entity';
import { AppError, badInput } from '../errors/app-error';
import type { ClientInfo } from '../http/client-info';
import { ChallengePurpose, ChallengeStatus, OtpChallenge } from '../otp/otp-challenge.entity';
import type { OtpService, PendingAuthResult } from '../otp/otp.service';
import type { PasswordHasher } from '../passwords/password-hasher';
import { checkNewPassword, normalizePassword } from '../passwords/password-rules';
import type { PhonePolicy } from '../phones/phone-policy';
import type { PasswordAttempts } from '../auth/password-attempts';
import type { Budget } from '../rate-limits/budget';
import type { RecoveryCodes } from '../recovery/recovery-codes';
import type { SessionService, Viewer } from '../sessions/session.service';
import type { Clock } from '../time/clock';
import { User } from '../users/user.entity';
import type { UserRepository } from '../users/user.repository';

/**
 * What a signed-in user changes about their account. The risky changes need a second factor
 * proven within the step-up window (`reauthenticate` first); password checks are limited per user
 * like login's (and per address by the resolvers' directive) and run off the event loop.
 */
export class AccountService {
  constructor(
    private readonly deps: {
      users: UserRepository;
      otp: OtpService;
      sessions: SessionService;
      hasher: PasswordHasher;
      phones: PhonePolicy;
      recoveryCodes: RecoveryCodes;
      audit: AuditTrail;
      /** Login's budgets: a stolen access token buys no password guesses beyond what login allows. */
      passwordAttempts: PasswordAttempts;
      /** Wrong codes per user: dies with the user. */
      wrongCodesPerUser: Budget;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** A step-up challenge for the user's current number, bound to the caller's session. */
  reauthenticate(viewer: Viewer): Promise<PendingAuthResult> {
    const { otp, phones } = this.deps;
    return otp.open(viewer.user, phones.channelsFor(viewer.user.phoneNumber), { kind: ChallengePurpose.StepUp, sessionId: viewer.sessionId });
  }

  /**
   * Codes go to the new number; nothing changes until one comes back. A new change replaces a
   * pending one (its token stops working).
   */
  async startPhoneNumberChange(viewer: Viewer, input: { phoneNumber: string; country?: string | null }): Promise<PendingAuthResult> {
    const { sessions, phones, otp, users } = this.deps;
    await sessions.requireRecentSecondFactor(viewer);
    const phone = phones.accept(input.phoneNumber, input.country);
    if (phone.e164 === viewer.user.phoneNumber) throw badInput('phoneNumber', 'This is already your phone number.');
    return inTransaction(users.getEntityManager(), async (tx) => {
      await users.lock(viewer.userId);
      await tx.nativeDelete(OtpChallenge, { user: viewer.userId, purpose: ChallengePurpose.PhoneChange });
      return otp.open(viewer.user, phone.channels, { kind: ChallengePurpose.PhoneChange, sessionId: viewer.sessionId, phoneNumber: phone.e164 });
    });
  }

  async regenerateRecoveryCodes(viewer: Viewer, client: ClientInfo): Promise<{ codes: string[]; createdAt: Date }> {
    const { sessions, recoveryCodes, audit, clock, users } = this.deps;
    await sessions.requireRecentSecondFactor(viewer);
    const createdAt = clock.now();
    const codes = await inTransaction(users.getEntityManager(), async () => {
      await sessions.holdViewer(viewer);
      await users.lock(viewer.userId);
      const fresh = await recoveryCodes.regenerate(viewer.userId, createdAt);
      await audit.record({ type: AuthEventType.RECOVERY_CODES_REGENERATED, userId: viewer.userId, sessionId: viewer.sessionId, client });
      return fresh;
    });
    return { codes, createdAt };
  }

  /**
   * Every other session ends, and every sign-in still waiting for its code (a leaked password must
   * not keep a thief signed in, nor let one finish signing in); this session carries on.
   */
  async changePassword(viewer: Viewer, input: { currentPassword: string; newPassword: string }, client: ClientInfo): Promise<void> {
    const { users, sessions, hasher, audit, clock, logger } = this.deps;
    await this.checkPassword(viewer, input.currentPassword, client);
    const password = normalizePassword(input.newPassword);
    checkNewPassword(password, 'newPassword');
    const passwordHash = await hasher.hash(password);
    const now = clock.now();
    await inTransaction(users.getEntityManager(), async (tx) => {
      await sessions.holdViewer(viewer);
      await users.nativeUpdate({ id: viewer.userId }, { passwordHash, updatedAt: now });
      // Sign-ins begun with the old password die with it: their codes must not open a session now.
      await tx.nativeDelete(OtpChallenge, { user: viewer.userId, purpose: ChallengePurpose.SignIn, status: ChallengeStatus.Pending });
      await audit.record({ type: AuthEventType.PASSWORD_CHANGED, userId: viewer.userId, sessionId: viewer.sessionId, client });
      await sessions.endOthers(viewer.userId, viewer.sessionId, client, 'password changed');
    });
    logger.info({ userId: viewer.userId }, 'password changed');
  }

  /** Step-up first, then the password: the user and everything of theirs go in one transaction. */
  async deleteAccount(viewer: Viewer, password: string, client: ClientInfo): Promise<void> {
    const { users, sessions, passwordAttempts, wrongCodesPerUser, logger } = this.deps;
    await sessions.requireRecentSecondFactor(viewer);
    await this.checkPassword(viewer, password, client);
    // Sessions, refresh tokens, challenges, recovery codes and audit events go by cascade; the
    // sessions are locked first, in the order a refresh takes its locks, the caller's still live.
    await inTransaction(users.getEntityManager(), async (tx) => {
      await sessions.holdAllOf(viewer);
      await tx.nativeDelete(User, { id: viewer.userId });
    });
    await Promise.all([wrongCodesPerUser.forget(viewer.userId), passwordAttempts.forget(viewer.user.emailCanonical)]);
    logger.info({ userId: viewer.userId }, 'account deleted');
  }

  /** INVALID_CREDENTIALS for a wrong password; RATE_LIMITED once the account's checks are spent. */
  private async checkPassword(viewer: Viewer, raw: string, client: ClientInfo): Promise<void> {
    const { passwordAttempts, hasher } = this.deps;
    const matches = await passwordAttempts.check(viewer.user.emailCanonical, client.ip, () => hasher.matches(raw, viewer.user.passwordHash));
    if (!matches) throw new AppError('INVALID_CREDENTIALS');
  }
}
