import { randomBytes, randomUUID } from 'node:crypto';
import { afterStatementsSent } from '../db/prepared';
import { inTransaction } from '../db/transaction';
import type { Logger } from 'pino';
import type { FlowLimits } from '../config/config';
import { AppError, badInput, isAppError } from '../errors/app-error';
import { isLive } from '../sessions/session-liveness';
import { maskPhone } from '../phones/mask';
import type { Channel } from '../phones/phone-policy';
import { addSeconds, earliest, latest, secondsToWait, secondsUntil, type Clock, wholeSeconds } from '../time/clock';
import type { PendingClaims, TokenService } from '../tokens/token-service';
import type { UserRecord } from '../users/user.entity';
import { ChallengePurpose, ChallengeStatus, type ChallengeView, destinationOf, OtpChallenge } from './otp-challenge.entity';
import type { OtpChallengeRepository } from './otp-challenge.repository';
import { CHANNEL_METHOD } from './otp-channels';
import { normalizeCode } from './otp-code';
import { OneAtATime } from './one-at-a-time';
import { requireLocale } from '../validation/locale';
import { type OtpProvider, SendOutcomeUnknown } from './otp-provider';
import type { Send, SendGuard, SendReceipt } from './send-guard';
import type { Budget, Taken } from '../rate-limits/budget';
import type { ClientInfo } from '../http/client-info';
import type { SessionGrant } from '../sessions/session.service';
import type { AuditEntry, AuditTrail } from '../audit/audit-trail';
import { AuthEventType } from '../audit/auth-event.entity';
import { normalizeRecoveryCode, type RecoveryCodes } from '../recovery/recovery-codes';
import { type ChallengeCompletion, numberProven, type Proof } from './challenge-completion';
import type { Metrics, OtpFailure } from '../metrics/metrics';

export interface PendingAuthResult {
  pendingToken: string;
  expiresAt: Date;
  phoneNumberHint: string;
  channels: Channel[];
}

/** A challenge opened while the password is compared (`OtpService.openAhead`). */
export interface OpenedAhead {
  /** The challenge written and its token signed: for a password that matched. */
  readonly result: Promise<PendingAuthResult>;
  /** For an attempt that fails: deletes the row once written. Returns at once; never throws. */
  withdraw(): void;
  /**
   * For a password that matched, once answered: `entry` (LOGIN_SUCCEEDED) written only while the
   * challenge is still pending. A password change or an account deletion that committed meanwhile
   * ended it (its token is dead): the trail must not show a successful old password after the
   * change (attack review). Returns at once; never throws.
   */
  recordWhilePending(entry: AuditEntry): void;
}

export interface DispatchResult extends ResendState {
  channel: Channel;
  expiresAt: Date;
  /** The SMS language the provider reports having used; null when it does not say. */
  locale: string | null;
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

/** The second factor: a challenge per login, codes sent and checked by the provider. */
export class OtpService {
  /**
   * Guesses at one pending token (codes and recovery codes) are judged one at a time in this
   * process: each is counted before it is judged (per token and per user, so that concurrent ones
   * can never exceed the caps), and guesses in flight together read each other's counts as spent:
   * the losers of a race of right codes answered OTP_ATTEMPTS_EXCEEDED instead of UNAUTHENTICATED,
   * and a flood on one token refused a right code on another for an hour's budget it had not
   * spent (attack review). Queued, each finds what the one before left: the token used, or its
   * attempts. Across instances the counts still hold the caps; only the answer can be that one.
   */
  private readonly guessesOfOneToken = new OneAtATime();

  constructor(
    private readonly deps: {
      challenges: OtpChallengeRepository;
      tokens: TokenService;
      provider: OtpProvider;
      completion: ChallengeCompletion;
      recoveryCodes: RecoveryCodes;
      audit: AuditTrail;
      sendGuard: SendGuard;
      /** Wrong codes per user across pending tokens: logging in again does not refill it. */
      wrongCodesPerUser: Budget;
      /** The longest a provider's start can take (its timeout): how long an owner's send waits for another in flight. */
      sendInFlightWaitMs: number;
      clock: Clock;
      limits: FlowLimits;
      logger: Logger;
      metrics: Metrics;
    },
  ) {}

  /**
   * A new challenge and the pending token that points at it: for a sign-in (while its password is
   * compared: `openAhead`; at register), or for a signed-in session (step-up; phone change, whose
   * codes go to `phoneNumber`).
   */
  async open(
    user: UserRecord,
    channels: Channel[],
    purpose: { kind: ChallengePurpose; sessionId?: string; phoneNumber?: string } = { kind: ChallengePurpose.SignIn },
    /** `openAhead`'s: the id it may withdraw, and the password hash the row is written under. */
    ahead?: { challengeId: string; passwordHash: string },
  ): Promise<PendingAuthResult> {
    const { challenges, tokens, clock, limits } = this.deps;
    const challengeId = ahead?.challengeId ?? randomUUID();
    // Whole seconds, as in the token's `exp`: the advertised expiry is then exactly the token's.
    const now = wholeSeconds(clock.now());
    const expiresAt = addSeconds(now, limits.pendingTokenTtlSeconds);
    // The token is signed while the row is written (it is handed out only once the row is there).
    const [written, pendingToken] = await Promise.all([
      challenges.add(
        {
          id: challengeId,
          userId: user.id,
          channels,
          purpose: purpose.kind,
          sessionId: purpose.sessionId ?? null,
          phoneNumber: purpose.phoneNumber ?? null,
          createdAt: now,
          expiresAt,
        },
        ahead?.passwordHash,
      ),
      afterStatementsSent().then(() => tokens.issuePending({ userId: user.id, challengeId, expiresAt, purpose: purpose.kind })),
    ]);
    if (!written) {
      // The password changed (or the account went) since login read the hash it compared.
      throw new AppError('INVALID_CREDENTIALS', { cause: new Error('the password compared is no longer the account’s') });
    }
    return { pendingToken, expiresAt, phoneNumberHint: maskPhone(purpose.phoneNumber ?? user.phoneNumber), channels };
  }

  /**
   * A sign-in challenge opened before the caller knows it is wanted: login writes it and signs its
   * token while bcrypt compares the password, and answers once the compare does. Until `result` is
   * handed out the row is inert: nothing can name it without the token, and no count or limit reads
   * a challenge that has sent nothing. `withdraw` (the password did not match, or the attempt was
   * refused) deletes it once its insert has settled, without being awaited: the answer must not
   * wait on it, or a wrong password would answer later than an unknown email, which opens nothing.
   * The row is written only while `user.passwordHash` (the hash compared) is still the account's:
   * a password change that commits first leaves `result` answering INVALID_CREDENTIALS, one that
   * commits after deletes the row with the other pending sign-ins (attack review: a login begun with
   * the old password, its challenge inserted after the compare, outlived the change). `channelsOf`
   * may throw (a stored number today's phone policy refuses): that too is `result`'s answer, so it
   * reaches the client only after the password matched, never in place of the compare.
   */
  openAhead(user: UserRecord, channelsOf: () => Channel[]): OpenedAhead {
    const challengeId = randomUUID();
    const ahead = { challengeId, passwordHash: user.passwordHash };
    const result = new Promise<Channel[]>((resolve) => resolve(channelsOf())).then((channels) =>
      this.open(user, channels, { kind: ChallengePurpose.SignIn }, ahead),
    );
    result.catch(() => {}); // awaited by whoever takes `result`; withdrawn otherwise
    return {
      result,
      recordWhilePending: (entry) => {
        const { challenges, audit } = this.deps;
        void challenges.recordWhilePending(challengeId, audit.valuesOf(entry)).catch((err: unknown) => audit.lost(entry, err));
      },
      withdraw: () => {
        void result
          .catch(() => {})
          .then(() => this.deps.challenges.remove(challengeId))
          .catch((err: unknown) => this.deps.logger.warn({ err }, 'a challenge opened ahead of a failed login was not deleted (it expires unused)'));
      },
    };
  }

  /** `locale` (BCP 47, optional) asks the provider for the SMS language. */
  async request(pendingToken: string, channel: Channel, client: ClientInfo, locale?: string | null): Promise<DispatchResult> {
    const { challenges, provider, sendGuard, wrongCodesPerUser, audit, clock, limits, logger } = this.deps;
    const language = locale === undefined || locale === null ? undefined : requireLocale(locale);
    const claims = await this.deps.tokens.verifyPending(pendingToken);
    const now = clock.now();
    // No code while the user's wrong-code budget is spent: verifyOtp would refuse it, right or not.
    // Read in the reservation's own call when the budget is counted in PostgreSQL.
    const exhausted = wrongCodesPerUser.exhaustedInStatement(claims.userId);
    if (!exhausted) {
      const waitSeconds = await wrongCodesPerUser.exhausted(claims.userId);
      if (waitSeconds !== undefined) throw wrongCodesExhausted(waitSeconds);
    }
    // Sinch requires a reference unique per start. Random, not the send count: a send that timed
    // out at our end may still exist at Sinch. The challenge id prefix lets support trace a send
    // to a login; the callbacks match the whole reference.
    const reference = `${claims.challengeId}.${randomBytes(6).toString('hex')}`;
    // Sinch aborts a number's pending code when a new one starts, so the start that reaches it
    // last wins. Per number, the check of who else is sending and the reservation are one step
    // (see `reserveSend`): a stranger is refused while an owner's code is live or in flight, and an
    // owner who finds a stranger's send in flight waits for it to be answered (below), so that the
    // owner's start comes last.
    // The caps per number too, when counted in PostgreSQL: the statement knows the number.
    const caps = sendGuard.numberCapsInStatement();
    const reservation = await this.reserveSend(
      { id: claims.challengeId, userId: claims.userId, purpose: claims.purpose },
      {
        channel,
        reference,
        now,
        maxSends: limits.maxSendsPerToken,
        cooldownSeconds: limits.resendCooldownSeconds,
        codeTtlSeconds: limits.codeTtlSeconds,
      },
      exhausted,
      caps?.values,
    );
    if (!reservation) return this.refuseSend(claims, channel, now);
    if ('exhaustedUntil' in reservation) throw wrongCodesExhausted(secondsToWait(reservation.exhaustedUntil - Date.now()));
    const { challenge, previous, destination: phoneNumber, proven } = reservation;
    const send: Send = { e164: phoneNumber, verifiedOwner: proven ? challenge.userId : undefined };

    const release = () => challenges.releaseSend(challenge.id, reference, previous);
    let receipt: SendReceipt;
    try {
      receipt = await sendGuard.take(send, caps && reservation.caps && caps.taken(send, reservation.caps));
    } catch (error) {
      await release();
      throw error;
    }
    if (send.verifiedOwner) await this.waitForOtherSendsTo(phoneNumber, challenge.id);
    let verificationId: string;
    let usedLocale: string | null;
    try {
      ({ id: verificationId, locale: usedLocale } = await provider.start({
        phoneNumber,
        method: CHANNEL_METHOD[channel].method,
        reference,
        codeTtlSeconds: limits.codeTtlSeconds,
        locale: language,
      }));
    } catch (error) {
      // The code may have gone out: the send stays counted everywhere (the token's cooldown too).
      if (error instanceof SendOutcomeUnknown) throw error;
      await Promise.all([release(), sendGuard.giveBack(receipt)]);
      // Replaced or ended meanwhile (a new phone change, a deleted account; our callback then
      // refused the start): what failed is the pending token, not the provider.
      if (!(await challenges.count({ id: challenge.id, status: ChallengeStatus.Pending }))) {
        throw new AppError('UNAUTHENTICATED', { cause: error });
      }
      throw error;
    }
    const codeExpiresAt = addSeconds(now, limits.codeTtlSeconds);
    // The send and its audit event in one statement. Recorded only if this send is still the
    // challenge's latest: a newer one in flight keeps its own.
    const event = {
      type: AuthEventType.OTP_SENT,
      userId: challenge.userId,
      sessionId: challenge.sessionId ?? undefined,
      client,
      detail: `${channel} to ${maskPhone(phoneNumber)}`,
    };
    const sent = await challenges.recordSent(challenge.id, reference, { verificationId, channel, codeExpiresAt }, (change, values) =>
      audit.recordWith(change, values, event, 'unflushed'),
    );
    const sentTo = { challengeId: challenge.id, channel, to: maskPhone(phoneNumber) };
    this.deps.metrics.codeSent(channel, phoneNumber);
    const latestSend =
      sent ??
      (await this.reload(challenge.id).catch((error: unknown) => {
        // Ended while Sinch answered (replaced by a new phone change, the account deleted): the
        // client hears UNAUTHENTICATED, and the code went out all the same.
        logger.info(sentTo, 'code sent for a challenge that ended meanwhile');
        throw error;
      }));
    logger.info({ ...sentTo, send: latestSend.sendCount }, 'code sent');
    return { channel, expiresAt: earliest(codeExpiresAt, latestSend.expiresAt), locale: usedLocale, ...this.resendState(latestSend, now) };
  }

  /**
   * The reservation, with the caps per number counted in its statement when `caps` are given.
   * Should that statement fail (the counters' table gone), the reservation alone: `SendGuard.take`
   * then takes the caps itself, in memory if need be, as the other limits do.
   */
  private async reserveSend(...[challenge, send, exhausted, caps]: Parameters<OtpChallengeRepository['reserveSend']>) {
    if (caps) {
      try {
        return await this.deps.challenges.reserveSend(challenge, send, exhausted, caps);
      } catch (err) {
        this.deps.logger.warn({ err }, 'reserving a send with its caps counted failed: reserving and counting apart');
      }
    }
    return this.deps.challenges.reserveSend(challenge, send, exhausted);
  }

  /**
   * Why `reserveSend` refused, read again (without the send lock), in the order a client needs:
   * the token dead or its attempts used up, a channel the number cannot take, a verified owner's
   * live code (a number the requester has not proven), then no sends left or the cooldown.
   */
  private async refuseSend(claims: PendingClaims, channel: Channel, now: Date): Promise<never> {
    const challenge = await this.loadLive(claims);
    if (!challenge.channels.includes(channel)) {
      throw badInput('channel', `This phone number can receive codes by ${challenge.channels.join(' or ')} only.`);
    }
    const send = sendOf(challenge);
    if (!send.verifiedOwner) await this.refuseWhileOwnersCodeIsLive(send.e164, challenge.user.id, now);
    throw this.sendRefusal(challenge, now);
  }

  /**
   * An unproven send (an account that merely names the number) would make Sinch abort the code the
   * number's verified owner is about to type: it waits until that code has expired.
   */
  private async refuseWhileOwnersCodeIsLive(e164: string, requesterId: string, now: Date): Promise<void> {
    const until = await this.deps.challenges.ownersLiveCodeUntil(e164, requesterId, now, this.deps.limits.codeTtlSeconds);
    if (until) {
      throw new AppError('RATE_LIMITED', {
        message: 'A code was just sent to this number. Try again later.',
        extensions: { retryAfterSeconds: secondsUntil(until, now) },
      });
    }
  }

  /**
   * Real time, on purpose: a send in flight ends when the provider answers (at most its timeout).
   * Past that bound the owner's send goes ahead anyway: a start whose fate is unknown must not
   * hold the number's owner off.
   */
  private async waitForOtherSendsTo(e164: string, challengeId: string): Promise<void> {
    const { challenges, limits, sendInFlightWaitMs } = this.deps;
    const deadline = Date.now() + sendInFlightWaitMs;
    while ((await challenges.sendInFlightTo(e164, challengeId, limits.codeTtlSeconds)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** For clients that poll after a send: has the code been reported undelivered, when to resend. */
  async status(pendingToken: string): Promise<ResendState> {
    const challenge = await this.liveChallenge(pendingToken);
    return this.resendState(challenge, this.deps.clock.now());
  }

  private resendState(challenge: ResendFields, now: Date): ResendState {
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

  /** The right code completes the challenge: a new session, a step-up, or a new number. */
  async verify(pendingToken: string, rawCode: string, client: ClientInfo): Promise<SessionGrant> {
    const claims = await this.deps.tokens.verifyPending(pendingToken);
    // The code's form is checked before any database work: a malformed code spends nothing.
    const code = normalizeCode(rawCode);
    return this.guessesOfOneToken.run(claims.challengeId, async () => {
      const counted = await this.countGuess(claims.userId, () => this.reserveCodeAttempt(claims));
      const { challenge } = counted;
      const channel = challenge.channel!;
      const proof: Proof = { kind: 'code', channel };
      return this.guess(counted, proof, client, async ({ complete }) => {
        const outcome = await this.deps.provider.report({ id: challenge.verificationId!, method: CHANNEL_METHOD[channel].method, code });
        if (outcome.kind === 'expired') throw new NotJudged(this.failed(challenge, proof, 'expired', new AppError('OTP_EXPIRED')));
        return outcome.kind === 'wrong_code' ? 'wrong' : complete();
      });
    });
  }

  /**
   * A code's attempt counted, in one statement, on a challenge that can take it (live, a code sent
   * and not expired, attempts left). When it cannot, the challenge is read to answer why, in the
   * order a client needs: token dead or used up, no code requested, code expired, attempts used.
   */
  private async reserveCodeAttempt(claims: PendingClaims): Promise<CountedGuess> {
    const { challenges, clock, limits } = this.deps;
    const { challengeId: id, userId, purpose } = claims;
    const reserved = await challenges.reserveCodeAttempt({ id, userId, purpose }, clock.now(), limits.maxWrongCodesPerToken);
    if (reserved) return { challenge: reserved, attemptsUsed: reserved.codeAttempts };
    const challenge = await this.loadLive(claims);
    const { channel, codeExpiresAt } = challenge;
    if (!challenge.verificationId || !channel || !codeExpiresAt) throw new AppError('OTP_NOT_REQUESTED');
    if (codeExpiresAt <= clock.now()) throw this.failed(challenge, { kind: 'code', channel }, 'expired', new AppError('OTP_EXPIRED'));
    throw this.whyVerifyRefused(challenge);
  }

  /**
   * A recovery code in place of an SMS/voice code, on a sign-in or step-up pending token: same
   * per-token and per-user wrong-code budgets. Never on a phone change (the new number must be
   * proven by its own code): that answers UNAUTHENTICATED and spends nothing.
   */
  async verifyRecoveryCode(pendingToken: string, rawCode: string, client: ClientInfo): Promise<SessionGrant> {
    const { recoveryCodes, clock } = this.deps;
    const claims = await this.deps.tokens.verifyPending(pendingToken);
    return this.guessesOfOneToken.run(claims.challengeId, async () => {
      let code = '';
      const counted = await this.countGuess(claims.userId, async () => {
        const challenge = await this.loadLive(claims);
        if (challenge.purpose === ChallengePurpose.PhoneChange) {
          throw new AppError('UNAUTHENTICATED', { cause: new Error('recovery codes cannot confirm a new number') });
        }
        code = normalizeRecoveryCode(rawCode);
        return { challenge, attemptsUsed: await this.reserveAttempt(challenge) };
      });
      return this.guess(counted, { kind: 'recovery' }, client, ({ spend }) =>
        // The code is spent in the transaction that completes the challenge: both happen, or neither.
        this.inTransaction(async () => ((await recoveryCodes.use(counted.challenge.user.id, code, clock.now())) ? spend() : 'wrong')),
      );
    });
  }

  /** The token's attempt, counted before the guess is judged (only while the challenge is live); answers the attempts used. */
  private async reserveAttempt(challenge: OtpChallenge): Promise<number> {
    const { challenges, clock, limits } = this.deps;
    const reserved = await challenges.reserveAttempt(challenge.id, clock.now(), limits.maxWrongCodesPerToken);
    if (!reserved) throw this.whyVerifyRefused(await this.reload(challenge.id));
    return reserved.codeAttempts;
  }

  /**
   * A guess counted before it is judged, per token (`reserve`) and per user, both at once: so
   * concurrent guesses cannot exceed the caps. If either fails, the other is given back.
   */
  private async countGuess(userId: string, reserve: () => Promise<CountedGuess>): Promise<CountedGuess & { budget: Taken }> {
    const { challenges, wrongCodesPerUser } = this.deps;
    const [attempt, taken] = await Promise.allSettled([reserve(), wrongCodesPerUser.take(userId)]);
    if (attempt.status === 'rejected') {
      if (taken.status === 'fulfilled') await wrongCodesPerUser.giveBack(userId, taken.value);
      throw attempt.reason;
    }
    if (taken.status === 'rejected') {
      await challenges.releaseAttempt(attempt.value.challenge.id);
      throw taken.reason;
    }
    return { ...attempt.value, budget: taken.value };
  }

  /**
   * One guess at a challenge's secret, counted (`countGuess`). The counts are given back when the
   * guess could not be judged, and the user's when it was right: only wrong guesses spend it.
   * `judge` answers 'wrong', or completes the challenge with one of `Completion`'s two.
   */
  private async guess(
    { challenge, attemptsUsed, budget }: CountedGuess & { budget: Taken },
    proof: Proof,
    client: ClientInfo,
    judge: (completion: Completion) => Promise<SessionGrant | 'wrong'>,
  ): Promise<SessionGrant> {
    const { challenges, completion, wrongCodesPerUser, sendGuard, audit, clock, logger } = this.deps;
    const userId = challenge.user.id;
    if (!budget.ok) {
      await challenges.releaseAttempt(challenge.id);
      throw this.failed(challenge, proof, 'attempts_exhausted', wrongCodesExhausted(budget.retryAfterSeconds));
    }

    // Given back once, from the moment the guess is known right (while the challenge is completed)
    // or known not judged; a failure to give back is logged, not the request's answer.
    let givenBack: Promise<void> | undefined;
    const giveBack = () =>
      (givenBack ??= wrongCodesPerUser
        .giveBack(userId, budget)
        .catch((err: unknown) => logger.warn({ err, userId }, 'wrong-code budget not given back')));
    const spend = async () => {
      void giveBack();
      // The pending token is spent in the same transaction as what it completes.
      if (!(await challenges.consume(challenge.id, clock.now()))) {
        throw new AppError('UNAUTHENTICATED', { cause: new Error('challenge already consumed') });
      }
      return completion.complete(await this.entityOf(challenge), proof, client);
    };
    const complete = () => {
      if (proof.kind !== 'code' || challenge.purpose !== ChallengePurpose.SignIn) return this.inTransaction(spend);
      void giveBack();
      return completion.signInByCode(challenge, proof.channel, client, () => this.inTransaction(spend));
    };
    let verdict: SessionGrant | 'wrong';
    try {
      verdict = await judge({ spend, complete });
    } catch (error) {
      // Not judged (provider down, code expired at its end, a failure before the verdict): nothing
      // is spent. A right guess whose token was spent meanwhile (a concurrent right answer, the
      // session ended) keeps its attempt but not the user's budget.
      const releases: Promise<unknown>[] = [giveBack()];
      if (!isAppError(error, 'UNAUTHENTICATED')) releases.push(challenges.releaseAttempt(challenge.id));
      await Promise.all(releases);
      throw error instanceof NotJudged ? error.answer : error;
    }
    if (verdict !== 'wrong') {
      await giveBack();
      if (proof.kind === 'code') this.deps.metrics.codeVerified(proof.channel, destinationOf(challenge));
      // Once committed, so once: a transaction run again after a deadlock, or rolled back, counts no conversion of its own.
      const proven = numberProven(challenge, proof);
      if (proven) await sendGuard.converted(proven).catch((err: unknown) => logger.warn({ err, userId }, 'conversion not counted'));
      logger.info({ challengeId: challenge.id, userId, sessionId: verdict.session.id, purpose: challenge.purpose }, 'second factor verified');
      return verdict;
    }

    const remaining = this.deps.limits.maxWrongCodesPerToken - attemptsUsed;
    logger.info({ challengeId: challenge.id, attemptsRemaining: remaining }, 'wrong code');
    const what = proof.kind === 'recovery' ? 'wrong recovery code' : `wrong ${proof.channel} code`;
    await audit.record({ type: AuthEventType.OTP_FAILED, userId, sessionId: challenge.session?.id, client, detail: what });
    if (remaining > 0)
      throw this.failed(challenge, proof, 'wrong_code', new AppError('OTP_INVALID', { extensions: { attemptsRemaining: remaining } }));
    await challenges.lock(challenge.id);
    throw this.failed(challenge, proof, 'attempts_exhausted', new AppError('OTP_ATTEMPTS_EXCEEDED'));
  }

  /** Counts a code not accepted (recovery codes are not sent, so not counted) and hands back the answer. */
  private failed(challenge: ChallengeView, proof: Proof, reason: OtpFailure, answer: AppError): AppError {
    if (proof.kind === 'code') this.deps.metrics.codeFailed(proof.channel, destinationOf(challenge), reason);
    return answer;
  }

  private inTransaction<T>(work: () => Promise<T>): Promise<T> {
    return inTransaction(this.deps.challenges.getEntityManager(), work);
  }

  /**
   * The challenge behind a pending token, if that token may still be used: for its own purpose
   * only, and for a step-up or phone change only while the session that asked is live.
   */
  private async liveChallenge(pendingToken: string): Promise<OtpChallenge> {
    return this.loadLive(await this.deps.tokens.verifyPending(pendingToken));
  }

  /** `liveChallenge` once its token is verified (a token refused costs no query, nor a transaction). */
  private async loadLive({ userId, challengeId, purpose }: PendingClaims): Promise<OtpChallenge> {
    const challenge = await this.deps.challenges.findWithOwner(challengeId, userId);
    if (!challenge || challenge.purpose !== purpose) throw new AppError('UNAUTHENTICATED', { cause: new Error('no challenge for token') });
    const now = this.deps.clock.now();
    if (challenge.purpose !== ChallengePurpose.SignIn && !(challenge.session && isLive(challenge.session, now))) {
      throw new AppError('UNAUTHENTICATED', { cause: new Error('the session that asked has ended') });
    }
    if (challenge.status === ChallengeStatus.Locked) throw new AppError('OTP_ATTEMPTS_EXCEEDED');
    if (challenge.status !== ChallengeStatus.Pending || challenge.expiresAt <= now) {
      throw new AppError('UNAUTHENTICATED', { cause: new Error(`challenge ${challenge.status}`) });
    }
    return challenge;
  }

  /**
   * The challenge as an entity of the request's unit of work, with its user and session, for a
   * completion that changes them (a step-up, a phone change, a recovery code): a view read as plain
   * data (a code's attempt) is loaded now, in the caller's transaction.
   */
  private async entityOf(challenge: ChallengeView): Promise<OtpChallenge> {
    if (challenge instanceof OtpChallenge) return challenge;
    const loaded = await this.deps.challenges.findWithOwner(challenge.id, challenge.user.id);
    if (!loaded) throw new AppError('UNAUTHENTICATED', { cause: new Error('challenge gone') });
    return loaded;
  }

  private reload(id: string): Promise<OtpChallenge> {
    return this.deps.challenges.findOneOrFail(id, { refresh: true });
  }

  private sendRefusal(challenge: OtpChallenge, now: Date): AppError {
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

/** The user's wrong-code budget is spent: no code can be verified (nor is one sent) for this long. */
function wrongCodesExhausted(retryAfterSeconds: number): AppError {
  const message = 'Too many wrong codes for this account. Try again later.';
  return new AppError('OTP_ATTEMPTS_EXCEEDED', { message, extensions: { retryAfterSeconds } });
}

/**
 * A send of `challenge` to its destination, and whether its user has proven that number (a new
 * number, in a phone change, is unproven until its code comes back: it spends the shared budget).
 */
function sendOf(challenge: OtpChallenge): Send {
  const e164 = destinationOf(challenge);
  const proven = e164 === challenge.user.phoneNumber && challenge.user.phoneVerifiedAt;
  return { e164, verifiedOwner: proven ? challenge.user.id : undefined };
}

/** How a right guess completes its challenge (`OtpService.guess`). */
interface Completion {
  /** In the caller's transaction: the pending token spent, then what it completes (`ChallengeCompletion.complete`). */
  spend(): Promise<SessionGrant>;
  /** On its own: a sign-in by code in one statement (`ChallengeCompletion.signInByCode`), anything else `spend` in a transaction. */
  complete(): Promise<SessionGrant>;
}

/** What the resend state of a challenge is computed from: an entity or a send's plain `SendState`. */
type ResendFields = Pick<OtpChallenge, 'channels' | 'sendCount' | 'lastSentAt' | 'deliveryFailedAt' | 'codeAttempts' | 'expiresAt'>;

/** A guess counted on its token: the challenge as the count left it, and the attempts used so far. */
interface CountedGuess {
  challenge: ChallengeView;
  attemptsUsed: number;
}

/** A guess the provider could not judge (the code expired at its end): nothing is spent, this is the answer. */
class NotJudged extends Error {
  constructor(readonly answer: AppError) {
    super(answer.message);
  }
}
