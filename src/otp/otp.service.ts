import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { FlowLimits } from '../config/config';
import { AppError, badInput } from '../errors/app-error';
import { maskPhone } from '../phones/mask';
import type { Channel } from '../phones/phone-policy';
import { addSeconds, earliest, latest, secondsUntil, type Clock } from '../time/clock';
import type { SecondFactor, TokenService } from '../tokens/token-service';
import type { User } from '../users/user.entity';
import type { UserRepository } from '../users/user.repository';
import { ChallengeStatus, type OtpChallenge } from './otp-challenge.entity';
import type { OtpChallengeRepository } from './otp-challenge.repository';
import { normalizeCode } from './otp-code';
import { type OtpProvider, type ProviderMethod, SendOutcomeUnknown } from './otp-provider';
import type { SendGuard } from './send-guard';
import type { Budget } from '../rate-limits/budget';
import type { ClientInfo, SessionGrant, SessionService } from '../sessions/session.service';

export interface PendingAuthResult {
  pendingToken: string;
  expiresAt: Date;
  phoneNumberHint: string;
  channels: Channel[];
}

export interface DispatchResult extends ResendState {
  channel: Channel;
  expiresAt: Date;
}

/** When the client may ask again, and by voice: what a "call me instead" button needs. */
export interface ResendState {
  resendAvailableAt: Date;
  /** Null when the number cannot take calls or no sends are left on the token. */
  voiceAvailableAt: Date | null;
  attemptsRemaining: number;
  /** The latest code was reported undelivered: a new send (by voice, say) is allowed at once. */
  deliveryFailed: boolean;
}

export const CHANNEL_METHOD: Record<Channel, { method: ProviderMethod; amr: SecondFactor }> = {
  SMS: { method: 'sms', amr: 'sms' },
  VOICE: { method: 'callout', amr: 'tel' },
};

/** The second factor: a challenge per login, codes sent and checked by the provider. */
export class OtpService {
  constructor(
    private readonly deps: {
      challenges: OtpChallengeRepository;
      users: UserRepository;
      tokens: TokenService;
      sessions: SessionService;
      provider: OtpProvider;
      sendGuard: SendGuard;
      /** Wrong codes per user across pending tokens: logging in again does not refill it. */
      wrongCodesPerUser: Budget;
      clock: Clock;
      limits: FlowLimits;
      logger: Logger;
    },
  ) {}

  /** After a correct password: a new challenge and the pending token that points at it. */
  async open(user: User, channels: Channel[]): Promise<PendingAuthResult> {
    const { challenges, tokens, clock, limits } = this.deps;
    // Whole seconds, as in the token's `exp`: the advertised expiry is then exactly the token's.
    const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
    const challenge = challenges.create({ user, channels, createdAt: now, expiresAt: addSeconds(now, limits.pendingTokenTtlSeconds) });
    await challenges.getEntityManager().persistAndFlush(challenge);
    const pendingToken = await tokens.issuePending({ userId: user.id, challengeId: challenge.id, expiresAt: challenge.expiresAt });
    return { pendingToken, expiresAt: challenge.expiresAt, phoneNumberHint: maskPhone(user.phoneNumber), channels };
  }

  async request(pendingToken: string, channel: Channel): Promise<DispatchResult> {
    const { challenges, provider, sendGuard, clock, limits, logger } = this.deps;
    const challenge = await this.liveChallenge(pendingToken);
    if (!challenge.channels.includes(channel)) {
      throw badInput('channel', `This phone number can receive codes by ${challenge.channels.join(' or ')} only.`);
    }
    const now = clock.now();
    // Read before reserving: the reservation refreshes `challenge` (one identity map per request).
    const { lastSentAt, sendReference, sendChannel, deliveryFailedAt } = challenge;
    const previous = { lastSentAt, sendReference, sendChannel, deliveryFailedAt };
    // Sinch requires a reference unique per start. Random, not the send count: a send that timed
    // out at our end may still exist at Sinch. The challenge id prefix lets support trace a send
    // to a login; the callbacks match the whole reference.
    const reference = `${challenge.id}.${randomBytes(6).toString('hex')}`;
    const reserved = await challenges.reserveSend(challenge.id, now, {
      reference,
      channel,
      maxSends: limits.maxSendsPerToken,
      cooldownSeconds: limits.resendCooldownSeconds,
    });
    if (!reserved) throw this.whySendRefused(await this.reload(challenge), now);

    const phoneNumber = challenge.user.phoneNumber;
    const send = { e164: phoneNumber, verifiedOwner: challenge.user.phoneVerifiedAt ? challenge.user.id : undefined };
    const release = () => challenges.releaseSend(challenge.id, previous);
    await sendGuard.take(send).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    let verificationId: string;
    try {
      ({ id: verificationId } = await provider.start({
        phoneNumber,
        method: CHANNEL_METHOD[channel].method,
        reference,
        codeTtlSeconds: limits.codeTtlSeconds,
      }));
    } catch (error) {
      // The code may have gone out: the send stays counted everywhere (the token's cooldown too).
      if (error instanceof SendOutcomeUnknown) throw error;
      await Promise.all([release(), sendGuard.giveBack(send)]);
      throw error;
    }
    const codeExpiresAt = addSeconds(now, limits.codeTtlSeconds);
    const sent = (await challenges.recordSent(challenge.id, { verificationId, channel, codeExpiresAt }))!;
    logger.info({ challengeId: challenge.id, channel, to: maskPhone(phoneNumber), send: sent.sendCount }, 'code sent');
    return { channel, expiresAt: earliest(codeExpiresAt, sent.expiresAt), ...this.resendState(sent, now) };
  }

  /** For clients that poll after a send: has the code been reported undelivered, when to resend. */
  async status(pendingToken: string): Promise<ResendState> {
    const challenge = await this.liveChallenge(pendingToken);
    return this.resendState(challenge, this.deps.clock.now());
  }

  private resendState(challenge: OtpChallenge, now: Date): ResendState {
    const { limits } = this.deps;
    const deliveryFailed = Boolean(challenge.deliveryFailedAt);
    const sendsLeft = challenge.sendCount < limits.maxSendsPerToken;
    const cooldownEnd = challenge.lastSentAt ? addSeconds(challenge.lastSentAt, limits.resendCooldownSeconds) : now;
    // With no sends left, nothing is available before the pending token expires.
    const resendAvailableAt = !sendsLeft ? challenge.expiresAt : deliveryFailed ? now : latest(cooldownEnd, now);
    return {
      resendAvailableAt,
      voiceAvailableAt: sendsLeft && challenge.channels.includes('VOICE') ? resendAvailableAt : null,
      attemptsRemaining: limits.maxWrongCodesPerToken - challenge.codeAttempts,
      deliveryFailed,
    };
  }

  /** The right code upgrades the pending token into a new session. */
  async verify(pendingToken: string, rawCode: string, client: ClientInfo): Promise<SessionGrant> {
    const { challenges, users, sessions, provider, wrongCodesPerUser, clock, limits, logger } = this.deps;
    const challenge = await this.liveChallenge(pendingToken);
    if (!challenge.verificationId || !challenge.channel || !challenge.codeExpiresAt) throw new AppError('OTP_NOT_REQUESTED');
    const code = normalizeCode(rawCode);
    const now = clock.now();
    if (challenge.codeExpiresAt <= now) throw new AppError('OTP_EXPIRED');

    // The attempt is counted before the provider sees the code, so concurrent guesses cannot
    // exceed the cap; it is given back only when the code was not judged.
    const reserved = await challenges.reserveAttempt(challenge.id, now, limits.maxWrongCodesPerToken);
    if (!reserved) throw this.whyVerifyRefused(await this.reload(challenge));

    const userId = challenge.user.id;
    const budget = await wrongCodesPerUser.take(userId);
    if (!budget.ok) {
      await challenges.releaseAttempt(challenge.id);
      throw new AppError('OTP_ATTEMPTS_EXCEEDED', {
        message: 'Too many wrong codes for this account. Try again later.',
        extensions: { retryAfterSeconds: budget.retryAfterSeconds },
      });
    }
    // Both counts are given back when the code was not judged (provider down, code expired), and
    // the user's when it was right: only wrong codes spend the user's budget.
    const notJudged = () => Promise.all([challenges.releaseAttempt(challenge.id), wrongCodesPerUser.giveBack(userId)]);

    const { method, amr } = CHANNEL_METHOD[challenge.channel];
    const outcome = await provider.report({ id: challenge.verificationId, method, code }).catch(async (error: unknown) => {
      await notJudged();
      throw error;
    });

    if (outcome.kind === 'expired') {
      await notJudged();
      throw new AppError('OTP_EXPIRED');
    }
    if (outcome.kind === 'wrong_code') {
      const remaining = limits.maxWrongCodesPerToken - reserved.codeAttempts;
      logger.info({ challengeId: challenge.id, attemptsRemaining: remaining }, 'wrong code');
      if (remaining > 0) throw new AppError('OTP_INVALID', { extensions: { attemptsRemaining: remaining } });
      await challenges.lock(challenge.id);
      throw new AppError('OTP_ATTEMPTS_EXCEEDED');
    }

    await wrongCodesPerUser.giveBack(userId);
    // The pending token is spent, the number proven and the session begun together, or none of them.
    const grant = await challenges.getEntityManager().transactional(async () => {
      if (!(await challenges.consume(challenge.id, clock.now()))) {
        throw new AppError('UNAUTHENTICATED', { cause: new Error('challenge already consumed') });
      }
      await users.markPhoneVerified(userId, now);
      return sessions.begin(await users.findOneOrFail(userId, { refresh: true }), ['pwd', amr], client);
    });
    logger.info({ challengeId: challenge.id, userId, sessionId: grant.session.id }, 'second factor verified: session begun');
    return grant;
  }

  /** The challenge behind a pending token, if that token may still be used. */
  private async liveChallenge(pendingToken: string): Promise<OtpChallenge> {
    const { userId, challengeId } = await this.deps.tokens.verifyPending(pendingToken);
    const challenge = await this.deps.challenges.findOne({ id: challengeId, user: userId }, { populate: ['user'] });
    if (!challenge) throw new AppError('UNAUTHENTICATED', { cause: new Error('no challenge for token') });
    if (challenge.status === ChallengeStatus.Locked) throw new AppError('OTP_ATTEMPTS_EXCEEDED');
    if (challenge.status !== ChallengeStatus.Pending || challenge.expiresAt <= this.deps.clock.now()) {
      throw new AppError('UNAUTHENTICATED', { cause: new Error(`challenge ${challenge.status}`) });
    }
    return challenge;
  }

  private reload(challenge: OtpChallenge): Promise<OtpChallenge> {
    return this.deps.challenges.findOneOrFail(challenge.id, { refresh: true });
  }

  private whySendRefused(challenge: OtpChallenge, now: Date): AppError {
    if (challenge.status === ChallengeStatus.Locked) return new AppError('OTP_ATTEMPTS_EXCEEDED');
    if (challenge.status !== ChallengeStatus.Pending || challenge.expiresAt <= now) return new AppError('UNAUTHENTICATED');
    const retryAfterSeconds = secondsUntil(this.resendState(challenge, now).resendAvailableAt, now);
    const message =
      challenge.sendCount >= this.deps.limits.maxSendsPerToken
        ? 'No more codes can be sent for this login. Log in again.'
        : 'A code was sent moments ago. Wait before asking for another.';
    return new AppError('RATE_LIMITED', { message, extensions: { retryAfterSeconds } });
  }

  private whyVerifyRefused(challenge: OtpChallenge): AppError {
    const attemptsUsedUp =
      challenge.status === ChallengeStatus.Locked ||
      (challenge.status === ChallengeStatus.Pending && challenge.codeAttempts >= this.deps.limits.maxWrongCodesPerToken);
    return new AppError(attemptsUsedUp ? 'OTP_ATTEMPTS_EXCEEDED' : 'UNAUTHENTICATED');
  }
}
