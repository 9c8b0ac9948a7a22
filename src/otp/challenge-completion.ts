import type { AuditTrail } from '../audit/audit-trail';
import { AppError } from '../errors/app-error';
import { AuthEventType } from '../audit/auth-event.entity';
import type { ClientInfo } from '../http/client-info';
import { maskPhone } from '../phones/mask';
import type { Channel } from '../phones/phone-policy';
import type { RecoveryCodes } from '../recovery/recovery-codes';
import type { SessionGrant, SessionService } from '../sessions/session.service';
import type { Clock } from '../time/clock';
import type { UserRepository } from '../users/user.repository';
import { ChallengePurpose, ChallengeStatus, type ChallengeView, OtpChallenge } from './otp-challenge.entity';
import { CHANNEL_METHOD } from './otp-channels';

/** How the second factor was proven: a code sent by SMS or voice call, or a recovery code. */
export type Proof = { kind: 'code'; channel: Channel } | { kind: 'recovery' };

/**
 * What a proven second factor does, by the challenge's purpose. Runs inside the transaction that
 * spent the pending token, so the change, its session and its audit events commit together.
 */
export class ChallengeCompletion {
  constructor(
    private readonly deps: {
      users: UserRepository;
      sessions: SessionService;
      recoveryCodes: RecoveryCodes;
      audit: AuditTrail;
      clock: Clock;
    },
  ) {}

  async complete(challenge: OtpChallenge, proof: Proof, client: ClientInfo): Promise<SessionGrant> {
    const { users, sessions, clock } = this.deps;
    const amr = amrOf(proof);
    const userId = challenge.user.id;
    const now = clock.now();
    switch (challenge.purpose) {
      case ChallengePurpose.SignIn: {
        const user = proof.kind === 'code' ? await users.markPhoneVerified(userId, now) : await users.findOneOrFail(userId, { refresh: true });
        const grant = await sessions.begin(user, amr, client);
        if (proof.kind === 'code') await this.record(grant, AuthEventType.OTP_VERIFIED, client, proof.channel);
        else await this.recordRecoveryCodeUsed(grant, client);
        return grant;
      }
      case ChallengePurpose.StepUp: {
        const grant = await sessions.stepUp(challenge.session!.id, userId, amr, client);
        if (proof.kind === 'recovery') await this.recordRecoveryCodeUsed(grant, client);
        await this.record(grant, AuthEventType.STEP_UP_VERIFIED, client, proof.kind === 'recovery' ? 'recovery code' : proof.channel);
        return grant;
      }
      case ChallengePurpose.PhoneChange: {
        // The loaded user is updated (and flushed with the session), so the answer shows the new number.
        const user = challenge.user;
        const previous = user.phoneNumber;
        Object.assign(user, { phoneNumber: challenge.phoneNumber!, phoneVerifiedAt: now, updatedAt: now });
        // Codes already sent to the old number (pending sign-ins and step-ups) must not work any more.
        await users.getEntityManager().nativeDelete(OtpChallenge, { user: userId, id: { $ne: challenge.id }, status: ChallengeStatus.Pending });
        const grant = await sessions.stepUp(challenge.session!.id, userId, amr, client);
        await this.record(grant, AuthEventType.PHONE_NUMBER_CHANGED, client, `${maskPhone(previous)} → ${maskPhone(user.phoneNumber)}`);
        return grant;
      }
    }
  }

  /**
   * A sign-in proven by a code, outside any transaction: the pending token spent, the phone marked
   * verified, the session and the OTP_VERIFIED event in one statement (`SessionService.beginOnCode`);
   * UNAUTHENTICATED when the token was spent meanwhile. Should that statement fail, `inTransaction`
   * (the token spent, then `complete`, in a transaction) is the answer, with its own errors and
   * its audit line's savepoint.
   */
  async signInByCode(
    challenge: ChallengeView,
    channel: Channel,
    client: ClientInfo,
    inTransaction: () => Promise<SessionGrant>,
  ): Promise<SessionGrant> {
    const userId = challenge.user.id;
    const event = (sessionId: string) => ({ type: AuthEventType.OTP_VERIFIED, userId, sessionId, client, detail: channel });
    let grant: SessionGrant | null;
    try {
      grant = await this.deps.sessions.beginOnCode(challenge.id, userId, amrOf({ kind: 'code', channel }), client, event);
    } catch {
      return inTransaction();
    }
    if (!grant) throw new AppError('UNAUTHENTICATED', { cause: new Error('challenge already consumed') });
    return grant;
  }

  private async recordRecoveryCodeUsed(grant: SessionGrant, client: ClientInfo): Promise<void> {
    const left = await this.deps.recoveryCodes.remaining(grant.user.id);
    await this.record(grant, AuthEventType.RECOVERY_CODE_USED, client, `${left} left`);
  }

  private record(grant: SessionGrant, type: AuthEventType, client: ClientInfo, detail: string): Promise<void> {
    return this.deps.audit.record({ type, userId: grant.user.id, sessionId: grant.session.id, client, detail });
  }
}

/**
 * The number a verified code proved for the first time (the pumping guard's conversion): a phone
 * change's new number, or a sign-in's number not verified before. Only a code proves a number;
 * a recovery code proves nothing about the phone.
 */
export function numberProven(challenge: Pick<ChallengeView, 'purpose' | 'phoneNumber' | 'user'>, proof: Proof): string | undefined {
  if (proof.kind !== 'code') return undefined;
  if (challenge.purpose === ChallengePurpose.PhoneChange) return challenge.phoneNumber ?? undefined;
  if (challenge.purpose === ChallengePurpose.SignIn && !challenge.user.phoneVerifiedAt) return challenge.user.phoneNumber;
  return undefined;
}

/** RFC 8176: "otp" for a recovery code (a one-time password the user kept), else the channel's. */
function amrOf(proof: Proof): string[] {
  return ['pwd', proof.kind === 'recovery' ? 'otp' : CHANNEL_METHOD[proof.channel].amr];
}
