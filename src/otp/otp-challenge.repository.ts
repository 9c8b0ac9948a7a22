import { EntityRepository, raw, type FilterQuery } from '@mikro-orm/postgresql';
import { addSeconds } from '../time/clock';
import type { Channel } from '../phones/phone-policy';
import { ChallengeStatus, OtpChallenge } from './otp-challenge.entity';

/**
 * A send reserved whose answer is not recorded yet: `recordSent` sets `code_expires_at` to at least
 * `last_sent_at + ttl`, a reservation moves `last_sent_at` past the previous code's. (A send given
 * back restores the previous `last_sent_at`.) The one bind parameter is the code's lifetime.
 */
const IN_FLIGHT = '(c.last_sent_at is not null and (c.code_expires_at is null or c.code_expires_at < c.last_sent_at + make_interval(secs => ?)))';

/**
 * Every change to a challenge is one conditional UPDATE ... RETURNING: the condition is the
 * invariant, so concurrent requests on one pending token cannot both pass a check (two sends in
 * one cooldown, a sixth code attempt, two upgrades). `null` means the condition did not hold.
 */
export class OtpChallengeRepository extends EntityRepository<OtpChallenge> {
  /** Usable: not upgraded, not locked, not expired. */
  private live(id: string, now: Date) {
    return { id, status: ChallengeStatus.Pending, consumedAt: null, expiresAt: { $gt: now } };
  }

  /** The cooldown is waived once the provider has reported the latest code undelivered. */
  reserveSend(id: string, now: Date, send: { reference: string; channel: Channel; maxSends: number; cooldownSeconds: number }) {
    return this.updateWhere(
      {
        ...this.live(id, now),
        sendCount: { $lt: send.maxSends },
        $or: [{ lastSentAt: null }, { lastSentAt: { $lte: addSeconds(now, -send.cooldownSeconds) } }, { deliveryFailedAt: { $ne: null } }],
      },
      { sendCount: raw('send_count + 1'), lastSentAt: now, sendReference: send.reference, sendChannel: send.channel, deliveryFailedAt: null },
    );
  }

  /** The live challenge whose latest send carries this reference, with its user. */
  findBySendReference(reference: string, now: Date) {
    return this.findOne(
      { sendReference: reference, status: ChallengeStatus.Pending, consumedAt: null, expiresAt: { $gt: now } },
      { populate: ['user'] },
    );
  }

  /** Only the latest send's failure counts: an older verification's news changes nothing. */
  markDeliveryFailed(match: { reference?: string; verificationId: string }, now: Date) {
    const latest = match.reference ? { sendReference: match.reference } : { verificationId: match.verificationId };
    return this.updateWhere({ ...latest, status: ChallengeStatus.Pending, deliveryFailedAt: null }, { deliveryFailedAt: now });
  }

  /**
   * A send that failed leaves no trace: no count, no cooldown, the previous send's details back.
   * Only while it is still the latest send (its reference): with two in flight (no cooldown, a
   * delivery failure waiving it), giving one back must not overwrite the other; the failed one
   * then stays counted, which errs on the side of the limits.
   */
  releaseSend(id: string, reference: string, previous: Pick<OtpChallenge, 'lastSentAt' | 'sendReference' | 'sendChannel' | 'deliveryFailedAt'>) {
    return this.updateWhere(
      { id, sendReference: reference, sendCount: { $gt: 0 } },
      {
        sendCount: raw('send_count - 1'),
        lastSentAt: previous.lastSentAt ?? null,
        sendReference: previous.sendReference ?? null,
        sendChannel: previous.sendChannel ?? null,
        deliveryFailedAt: previous.deliveryFailedAt ?? null,
      },
    );
  }

  /** The provider's id for the send with this reference, if it is still the latest. */
  recordSent(id: string, reference: string, sent: { verificationId: string; channel: Channel; codeExpiresAt: Date }) {
    return this.updateWhere({ id, sendReference: reference }, sent);
  }

  /**
   * Until when another user who has proven `e164` has a live code for it (a pending challenge
   * whose code has not expired), or a send to it in flight (reserved, not yet answered), or null.
   * A send to the number now would make Sinch abort it.
   */
  async ownersLiveCodeUntil(e164: string, requesterId: string, now: Date, codeTtlSeconds: number): Promise<Date | null> {
    const [row] = await this.em.execute<Array<{ until: Date | null }>>(
      `select max(greatest(c.code_expires_at, c.last_sent_at + make_interval(secs => ?))) as until
       from otp_challenge c join app_user u on u.id = c.user_id
       where u.phone_number = ? and u.phone_verified_at is not null and u.id <> ?
         and c.status = 'pending' and c.expires_at > ? and coalesce(c.phone_number, u.phone_number) = ?
         and (c.code_expires_at > ? or ${IN_FLIGHT})`,
      [codeTtlSeconds, e164, requesterId, now, e164, now, codeTtlSeconds],
    );
    return row?.until ? new Date(row.until) : null;
  }

  /** Whether another challenge's send to `e164` is in flight (reserved, its answer not yet recorded). */
  async sendInFlightTo(e164: string, exceptId: string, codeTtlSeconds: number): Promise<boolean> {
    const rows = await this.em.execute(
      `select 1 from otp_challenge c join app_user u on u.id = c.user_id
       where coalesce(c.phone_number, u.phone_number) = ? and c.id <> ? and c.status = 'pending' and ${IN_FLIGHT} limit 1`,
      [e164, exceptId, codeTtlSeconds],
    );
    return rows.length > 0;
  }

  /**
   * Holds every send to `e164` off until the caller's transaction ends: the check of who else is
   * sending there and the reservation of this send happen as one step.
   */
  async lockNumber(e164: string): Promise<void> {
    await this.em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`send:${e164}`]);
  }

  reserveAttempt(id: string, now: Date, maxAttempts: number) {
    return this.updateWhere({ ...this.live(id, now), codeAttempts: { $lt: maxAttempts } }, { codeAttempts: raw('code_attempts + 1') });
  }

  /** Given back when the provider could not check the code: the user's guess was not judged. */
  releaseAttempt(id: string) {
    return this.updateWhere({ id, codeAttempts: { $gt: 0 } }, { codeAttempts: raw('code_attempts - 1') });
  }

  lock(id: string) {
    return this.updateWhere({ id, status: ChallengeStatus.Pending }, { status: ChallengeStatus.Locked });
  }

  /** The single transition to Verified: of two concurrent upgrades, exactly one gets a row. */
  consume(id: string, now: Date) {
    return this.updateWhere(this.live(id, now), { status: ChallengeStatus.Verified, consumedAt: now });
  }

  private async updateWhere(where: FilterQuery<OtpChallenge>, data: Record<string, unknown>): Promise<OtpChallenge | null> {
    const rows = await this.createQueryBuilder().update(data).where(where).returning('*').execute('all', false);
    const row = (rows as Record<string, unknown>[])[0];
    return row ? this.em.map(OtpChallenge, row, { schema: undefined }) : null;
  }
}
