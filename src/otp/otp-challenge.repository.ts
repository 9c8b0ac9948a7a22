import { EntityRepository } from '@mikro-orm/postgresql';
import { eventAfter } from '../audit/audit-trail';
import { queryIn, type Statement, type StatementRunner, UNFLUSHED } from '../db/prepared';
import { type KeyedPointRow, limitKeySql } from '../rate-limits/budget';
import { takePoint } from '../rate-limits/shared-counts';
import { AuthSession } from '../sessions/session.entity';
import { liveSessionSql } from '../sessions/session-liveness';
import { addSeconds } from '../time/clock';
import type { Channel } from '../phones/phone-policy';
import { User } from '../users/user.entity';
import { type ChallengePurpose, ChallengeStatus, type ChallengeView, OtpChallenge } from './otp-challenge.entity';
import { capHolderSql, type NumberCapsInStatement } from './send-guard';

/** Usable: not upgraded, not locked, not expired (`now` is the placeholder holding the time). */
const live = (now: string) => `status = 'pending' and consumed_at is null and expires_at > ${now}`;
const LIVE = live('$2');

/** The pending token spent: challenge `id` (a placeholder) verified at `now`, if it is still live. */
export const consumeChallenge = (id: string, now: string) =>
  `update otp_challenge set status = 'verified', consumed_at = ${now} where id = ${id} and ${live(now)}`;

/** One conditional UPDATE ... RETURNING * per change (see the class comment), each a named statement. */
const UPDATE = {
  releaseSend: {
    name: 'otp_release_send',
    text: `update otp_challenge set send_count = send_count - 1, last_sent_at = $3, send_reference = $4, send_channel = $5, delivery_failed_at = $6
      where id = $1 and send_reference = $2 and send_count > 0 returning *`,
  },
  recordSent: {
    name: 'otp_record_sent',
    text: `update otp_challenge set verification_id = $3, channel = $4, code_expires_at = $5 where id = $1 and send_reference = $2 returning *`,
  },
  failedByReference: {
    name: 'otp_failed_by_reference',
    text: `update otp_challenge set delivery_failed_at = $2 where send_reference = $1 and status = 'pending' and delivery_failed_at is null returning *`,
  },
  failedByVerification: {
    name: 'otp_failed_by_verification',
    text: `update otp_challenge set delivery_failed_at = $2 where verification_id = $1 and status = 'pending' and delivery_failed_at is null returning *`,
  },
  reserveAttempt: {
    name: 'otp_reserve_attempt',
    text: `update otp_challenge set code_attempts = code_attempts + 1 where id = $1 and ${LIVE} and code_attempts < $3 returning *`,
  },
  releaseAttempt: {
    name: 'otp_release_attempt',
    text: `update otp_challenge set code_attempts = code_attempts - 1 where id = $1 and code_attempts > 0 returning *`,
  },
  lock: { name: 'otp_lock', text: `update otp_challenge set status = 'locked' where id = $1 and status = 'pending' returning *` },
  consume: {
    name: 'otp_consume',
    text: `${consumeChallenge('$1', '$2')} returning *`,
  },
} satisfies Record<string, Statement>;

/** The reservation's function (Migration20261204220000), its parameters $1 to $12. */
const RESERVE_SEND = 'otp_reserve_send_unless_exhausted($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)';

/**
 * Sends to a phone number: reserving one, and what other challenges do with the number (the
 * functions of Migration20261203010000 hold the conditions, shared by the reservation and these).
 */
const NUMBER = {
  reserveSend: { name: 'otp_reserve_send_unless_exhausted', text: `select * from ${RESERVE_SEND}` },
  /**
   * `reserveSend` and, once the send is reserved, the caps per number (`NumberCapsInStatement`'s
   * values as $13 to $18): the hour's point, and the day's while the hour's is within its limit.
   */
  reserveSendCounted: {
    name: 'otp_reserve_send_counted',
    text: `with r as (select * from ${RESERVE_SEND}),
      holder as (select ${limitKeySql(capHolderSql('r.destination', 'r.proven'))} as key from r where r.challenge is not null),
      hour as (${takePoint('($13 || (select key from holder))', '$14', '$18', 'exists (select 1 from holder)')}),
      day as (${takePoint('($16 || (select key from holder))', '$17', '$18', '(select points from hour) <= $15')})
      select r.*, (select jsonb_agg(jsonb_build_object('key', key, 'points', points, 'expire', expire::text))
        from (select * from hour union all select * from day) counted) as caps
      from r`,
  },
  ownersLiveCodeUntil: { name: 'otp_owners_live_code_until', text: 'select otp_owners_live_code_until($1, $2, $3, $4) as until' },
  sendInFlightTo: {
    name: 'otp_send_in_flight_to',
    text: `select 1 from otp_challenge c join app_user u on u.id = c.user_id
      where coalesce(c.phone_number, u.phone_number) = $1 and c.id <> $2 and c.status = 'pending' and otp_send_in_flight(c, $3) limit 1`,
  },
} satisfies Record<string, Statement>;

const CHALLENGE_COLUMNS = 'id, user_id, purpose, session_id, phone_number, channels, expires_at, created_at';

const INSERT: Statement = {
  name: 'otp_challenge_insert',
  text: `insert into otp_challenge (${CHALLENGE_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8) returning id`,
};

/**
 * `INSERT` only while the user's password hash is still $9, the user's row held (FOR SHARE) until
 * the insert commits: a password change either commits first (no row) or waits for this one and
 * then deletes it with the account's other pending sign-ins. A row lock is written to the
 * write-ahead log, which would make the commit wait for a flush that neither the lock nor the
 * unlogged challenge needs: synchronous_commit is off for this statement's transaction.
 */
const INSERT_WHILE_PASSWORD: Statement = {
  name: 'otp_challenge_insert_while_password',
  text: `with c as (
      insert into otp_challenge (${CHALLENGE_COLUMNS})
      select $1, $2, $3, $4, $5, $6, $7, $8 from app_user u where u.id = $2 and u.password_hash = $9 for share
      returning id)
    select c.id from c, ${UNFLUSHED}`,
};

/**
 * An event ($2…, `AuditTrail.valuesOf`) written only while challenge $1 is pending, unflushed (it is
 * about that challenge). The row held (FOR KEY SHARE) until the commit: a deletion of it (a password
 * change) waits, so the event comes before whatever that change records.
 */
const EVENT_WHILE_PENDING: Statement = {
  name: 'otp_challenge_event_while_pending',
  text: `with live as (select id from otp_challenge where id = $1 and status = 'pending' for key share), ${eventAfter('live', 2)}
    select 1 as recorded from live, ${UNFLUSHED}`,
};

const DELETE: Statement = { name: 'otp_challenge_delete', text: 'delete from otp_challenge where id = $1' };

/** A challenge of a user with its user and (step-up, phone change) its session, as rows (`WithOwnerRow`): one statement. */
const WITH_OWNER: Statement = {
  name: 'otp_challenge_with_owner',
  text: `select to_jsonb(c) as challenge, to_jsonb(u) as user, to_jsonb(s) as session
    from otp_challenge c join app_user u on u.id = c.user_id left join auth_session s on s.id = c.session_id
    where c.id = $1 and c.user_id = $2`,
};

/**
 * A code's attempt counted on a challenge that can take it, answered with what judging the code
 * needs of the challenge and its owner (`ChallengeView`, as plain columns): pending, not expired,
 * for the token's purpose, a code sent and not expired, attempts left, and (step-up, phone change)
 * the session that asked still live. $1 id, $2 user, $3 purpose, $4 now, $5 the attempts allowed.
 */
const CODE_ATTEMPT_WITH_OWNER: Statement = {
  name: 'otp_code_attempt_with_owner',
  text: `with c as (
      update otp_challenge set code_attempts = code_attempts + 1
      where id = $1 and user_id = $2 and purpose::text = $3 and ${live('$4')}
        and code_attempts < $5 and verification_id is not null and channel is not null and code_expires_at > $4
        and (purpose = 'sign_in' or exists (select 1 from auth_session s where s.id = session_id and ${liveSessionSql('$4', 's.')}))
      returning *)
    select c.id, c.purpose, c.phone_number, c.channel, c.verification_id, c.code_attempts, c.session_id,
      u.id as user_id, u.phone_number as user_phone_number, u.phone_verified_at as user_phone_verified_at
    from c join app_user u on u.id = c.user_id`,
};

/**
 * requestOtp's view of a challenge: plain data read from its row (`sendStateOf`), not an entity of
 * the unit of work. Nothing in a send is flushed, and mapping rows to entities was a good part of
 * requestOtp's CPU time.
 */
export interface SendState {
  id: string;
  userId: string;
  sessionId: string | null;
  channels: Channel[];
  sendCount: number;
  lastSentAt: Date | null;
  deliveryFailedAt: Date | null;
  codeAttempts: number;
  expiresAt: Date;
}

/** An `otp_challenge` row as PostgreSQL answers it (`returning *`, `to_jsonb`): timestamps as text. */
type ChallengeRow = {
  id: string;
  user_id: string;
  session_id: string | null;
  channels: Channel[];
  send_count: number;
  last_sent_at: string | null;
  send_reference: string | null;
  send_channel: Channel | null;
  delivery_failed_at: string | null;
  code_attempts: number;
  expires_at: string;
};

function sendStateOf(row: ChallengeRow): SendState {
  return {
    id: row.id,
    userId: row.user_id,
    sessionId: row.session_id,
    channels: row.channels,
    sendCount: row.send_count,
    lastSentAt: dateOrNull(row.last_sent_at),
    deliveryFailedAt: dateOrNull(row.delivery_failed_at),
    codeAttempts: row.code_attempts,
    expiresAt: new Date(row.expires_at),
  };
}

/** A challenge's latest send as it was before a reservation: what giving the new one back restores. */
export type PreviousSend = Pick<OtpChallenge, 'lastSentAt' | 'sendReference' | 'sendChannel' | 'deliveryFailedAt'>;

/** What CODE_ATTEMPT_WITH_OWNER answers. */
type AttemptRow = {
  id: string;
  purpose: ChallengePurpose;
  phone_number: string | null;
  channel: Channel | null;
  verification_id: string | null;
  code_attempts: number;
  session_id: string | null;
  user_id: string;
  user_phone_number: string;
  user_phone_verified_at: string | null;
};

type WithOwnerRow = { challenge: Record<string, unknown>; user: Record<string, unknown>; session: Record<string, unknown> | null };

/**
 * Every change to a challenge is one conditional UPDATE ... RETURNING: the condition is the
 * invariant, so concurrent requests on one pending token cannot both pass a check (two sends in
 * one cooldown, a sixth code attempt, two upgrades). `null` means the condition did not hold.
 * The statements are named SQL (each sign-in step runs several), in the caller's transaction if any;
 * the row returned refreshes the request's copy of the challenge.
 */
export class OtpChallengeRepository extends EntityRepository<OtpChallenge> {
  /**
   * The challenge with its user and session loaded, in one statement, or null when it is not this
   * user's. Entities of the request's unit of work, as `findOne` with `populate` would give.
   */
  async findWithOwner(id: string, userId: string): Promise<OtpChallenge | null> {
    const [row] = await queryIn<WithOwnerRow>(this.em, WITH_OWNER, [id, userId]);
    return row ? this.mapWithOwner(row) : null;
  }

  /**
   * A send reserved in one round trip (`otp_reserve_send`): under its destination's send lock, the
   * challenge's send counted while it is live, for this purpose (a step-up or phone change: while
   * its session is), takes the channel, has sends left and is past its cooldown (or its latest code
   * was reported undelivered), and, for a number its user has not proven, while no verified owner
   * has a live code or a send in flight. Answers the challenge as reserved, where its codes go,
   * whether its user has proven that number, and its send as it was before (what `releaseSend`
   * restores); null when refused. With `exhausted` (a budget's row in `rate_limit`, from
   * `Budget.exhaustedInStatement`): refused first while that budget has no point left, answering
   * the window's end (epoch ms) instead (Migration20261204220000). With `caps` (caps per number in
   * `rate_limit`, from `SendGuard.numberCapsInStatement`): once the send is reserved, a point of the
   * hour's cap for its destination (`capHolderSql`), and of the day's when the hour admits it, their
   * rows answered as `caps`.
   */
  async reserveSend(
    challenge: { id: string; userId: string; purpose: string },
    send: { channel: Channel; reference: string; now: Date; maxSends: number; cooldownSeconds: number; codeTtlSeconds: number },
    exhausted?: [rowKey: string, limit: number, now: number],
    caps?: NumberCapsInStatement['values'],
  ): Promise<
    { challenge: SendState; destination: string; proven: boolean; previous: PreviousSend; caps?: KeyedPointRow[] } | { exhaustedUntil: number } | null
  > {
    const { channel, reference, now, maxSends, cooldownSeconds, codeTtlSeconds } = send;
    const cooldownStart = addSeconds(now, -cooldownSeconds);
    const values = [
      ...(exhausted ?? [null, null, null]),
      ...[challenge.id, challenge.userId, challenge.purpose, channel, now, reference, maxSends, cooldownStart, codeTtlSeconds],
    ];
    type Reserved = {
      challenge: ChallengeRow;
      destination: string;
      proven: boolean;
      previous: ChallengeRow;
      exhausted_until: string | null;
      caps?: KeyedPointRow[] | null;
    };
    const [row] = caps
      ? await queryIn<Reserved>(this.em, NUMBER.reserveSendCounted, [...values, ...caps])
      : await queryIn<Reserved>(this.em, NUMBER.reserveSend, values);
    if (!row) return null;
    if (row.exhausted_until !== null) return { exhaustedUntil: Number(row.exhausted_until) };
    const { last_sent_at, send_reference, send_channel, delivery_failed_at } = row.previous;
    const previous = {
      lastSentAt: dateOrNull(last_sent_at),
      sendReference: send_reference ?? null,
      sendChannel: send_channel ?? null,
      deliveryFailedAt: dateOrNull(delivery_failed_at),
    };
    return { challenge: sendStateOf(row.challenge), destination: row.destination, proven: row.proven, previous, caps: row.caps ?? undefined };
  }

  /**
   * verifyOtp's first step in one statement: a code attempt counted on a challenge that can take
   * it (see CODE_ATTEMPT_WITH_OWNER), answered with what its owner needs to judge the code, as
   * plain data (a sign-in by code needs no entity; the other completions load theirs); null when
   * it cannot (the caller then reads the challenge to say why).
   */
  async reserveCodeAttempt(
    challenge: { id: string; userId: string; purpose: string },
    now: Date,
    maxAttempts: number,
  ): Promise<ChallengeView | null> {
    const values = [challenge.id, challenge.userId, challenge.purpose, now, maxAttempts];
    const [row] = await queryIn<AttemptRow>(this.em, CODE_ATTEMPT_WITH_OWNER, values);
    if (!row) return null;
    return {
      id: row.id,
      purpose: row.purpose,
      phoneNumber: row.phone_number,
      channel: row.channel,
      verificationId: row.verification_id,
      codeAttempts: row.code_attempts,
      user: { id: row.user_id, phoneNumber: row.user_phone_number, phoneVerifiedAt: dateOrNull(row.user_phone_verified_at) },
      session: row.session_id === null ? null : { id: row.session_id },
    };
  }

  private mapWithOwner(row: WithOwnerRow): OtpChallenge {
    // Owner first: the challenge's references then resolve to the entities just mapped.
    this.em.map(User, row.user);
    if (row.session) this.em.map(AuthSession, row.session);
    return this.em.map(OtpChallenge, row.challenge);
  }

  /**
   * A new challenge, pending, nothing sent: one INSERT (nothing else in the request changes it).
   * With `whilePasswordHash`, only if that is still the user's password hash: answers whether it was written.
   */
  async add(
    challenge: {
      id: string;
      userId: string;
      purpose: ChallengePurpose;
      sessionId: string | null;
      phoneNumber: string | null;
      channels: Channel[];
      createdAt: Date;
      expiresAt: Date;
    },
    whilePasswordHash?: string,
  ): Promise<boolean> {
    const { id, userId, purpose, sessionId, phoneNumber, channels, expiresAt, createdAt } = challenge;
    const values = [id, userId, purpose, sessionId, phoneNumber, channels, expiresAt, createdAt];
    const rows =
      whilePasswordHash === undefined
        ? await queryIn(this.em, INSERT, values)
        : await queryIn(this.em, INSERT_WHILE_PASSWORD, [...values, whilePasswordHash]);
    return rows.length > 0;
  }

  /** `eventValues` (`AuditTrail.valuesOf`) written only while challenge `id` is pending: answers whether it was. */
  async recordWhilePending(id: string, eventValues: unknown[]): Promise<boolean> {
    return (await queryIn(this.em, EVENT_WHILE_PENDING, [id, ...eventValues])).length > 0;
  }

  /** A challenge that was never handed out (`OtpService.openAhead`): gone, whatever its state. */
  async remove(id: string): Promise<void> {
    await queryIn(this.em, DELETE, [id]);
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
    return match.reference
      ? this.update(UPDATE.failedByReference, [match.reference, now])
      : this.update(UPDATE.failedByVerification, [match.verificationId, now]);
  }

  /**
   * A send that failed leaves no trace: no count, no cooldown, the previous send's details back.
   * Only while it is still the latest send (its reference): with two in flight (no cooldown, a
   * delivery failure waiving it), giving one back must not overwrite the other; the failed one
   * then stays counted, which errs on the side of the limits.
   */
  releaseSend(id: string, reference: string, previous: PreviousSend) {
    return this.update(UPDATE.releaseSend, [
      id,
      reference,
      previous.lastSentAt ?? null,
      previous.sendReference ?? null,
      previous.sendChannel ?? null,
      previous.deliveryFailedAt ?? null,
    ]);
  }

  /**
   * The provider's id for the send with this reference, if it is still the latest. `run` may add
   * the send's audit event to the statement.
   */
  async recordSent(
    id: string,
    reference: string,
    sent: { verificationId: string; channel: Channel; codeExpiresAt: Date },
    run: StatementRunner = (s, v) => queryIn(this.em, s, v),
  ): Promise<SendState | null> {
    const [row] = await run<ChallengeRow>(UPDATE.recordSent, [id, reference, sent.verificationId, sent.channel, sent.codeExpiresAt]);
    return row ? sendStateOf(row) : null;
  }

  /**
   * Until when another user who has proven `e164` has a live code for it (a pending challenge
   * whose code has not expired), or a send to it in flight (reserved, not yet answered), or null.
   * A send to the number now would make Sinch abort it.
   */
  async ownersLiveCodeUntil(e164: string, requesterId: string, now: Date, codeTtlSeconds: number): Promise<Date | null> {
    const [row] = await queryIn<{ until: string | null }>(this.em, NUMBER.ownersLiveCodeUntil, [e164, requesterId, now, codeTtlSeconds]);
    return row?.until ? new Date(row.until) : null;
  }

  /** Whether another challenge's send to `e164` is in flight (reserved, its answer not yet recorded). */
  async sendInFlightTo(e164: string, exceptId: string, codeTtlSeconds: number): Promise<boolean> {
    return (await queryIn(this.em, NUMBER.sendInFlightTo, [e164, exceptId, codeTtlSeconds])).length > 0;
  }

  reserveAttempt(id: string, now: Date, maxAttempts: number) {
    return this.update(UPDATE.reserveAttempt, [id, now, maxAttempts]);
  }

  /** Given back when the provider could not check the code: the user's guess was not judged. */
  releaseAttempt(id: string) {
    return this.update(UPDATE.releaseAttempt, [id]);
  }

  lock(id: string) {
    return this.update(UPDATE.lock, [id]);
  }

  /** The single transition to Verified: of two concurrent upgrades, exactly one gets a row. */
  consume(id: string, now: Date) {
    return this.update(UPDATE.consume, [id, now]);
  }

  private async update(
    statement: Statement,
    values: unknown[],
    run: StatementRunner = (s, v) => queryIn(this.em, s, v),
  ): Promise<OtpChallenge | null> {
    const [row] = await run<Record<string, unknown>>(statement, values);
    return row ? this.em.map(OtpChallenge, row) : null;
  }
}

/** A timestamp as PostgreSQL writes it as text, or null. */
function dateOrNull(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}
