import { randomUUID } from 'node:crypto';
import { ArrayType, Entity, EntityRepositoryType, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import type { Rel } from '@mikro-orm/core';
import type { Channel } from '../phones/phone-policy';
import { AuthSession } from '../sessions/session.entity';
import { User } from '../users/user.entity';
import { OtpChallengeRepository } from './otp-challenge.repository';

export enum ChallengeStatus {
  /** Password checked; waiting for a code. */
  Pending = 'pending',
  /** Upgraded to an access token: the pending token is spent. */
  Verified = 'verified',
  /** The last allowed wrong code was used: the pending token is dead. */
  Locked = 'locked',
}

/** What proving the code is for; a pending token works only for its own purpose. */
export enum ChallengePurpose {
  /** Password checked at login or register: the code begins a session. */
  SignIn = 'sign_in',
  /** A signed-in user proves the second factor again: the code refreshes the session's authenticatedAt. */
  StepUp = 'step_up',
  /** Codes go to a new number: the code switches the user's number. */
  PhoneChange = 'phone_change',
}

/**
 * The server-side record behind one pending token (its `jti` is this id): what a login still
 * needs before it becomes a full session. Counters change only through the repository's
 * conditional updates, never through flushes of a loaded copy.
 */
@Entity({ tableName: 'otp_challenge', repository: () => OtpChallengeRepository })
export class OtpChallenge {
  [EntityRepositoryType]?: OtpChallengeRepository;
  [OptionalProps]?: 'id' | 'status' | 'sendCount' | 'codeAttempts' | 'purpose';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  @Index()
  user!: User;

  @Enum({ items: () => ChallengeStatus, nativeEnumName: 'otp_challenge_status' })
  status: ChallengeStatus = ChallengeStatus.Pending;

  @Enum({ items: () => ChallengePurpose, nativeEnumName: 'otp_challenge_purpose' })
  purpose: ChallengePurpose = ChallengePurpose.SignIn;

  /** Step-up and phone change: the session that asked. Ending it deletes the challenge. */
  @ManyToOne(() => AuthSession, { nullable: true, deleteRule: 'cascade' })
  @Index()
  session?: Rel<AuthSession> | null;

  /** Phone change: the new number (E.164), where the codes go. Otherwise the user's own number. */
  @Property({ type: 'text', nullable: true })
  phoneNumber?: string | null;

  /** Channels the user's number may receive, decided at login. */
  @Property({ type: ArrayType })
  channels!: Channel[];

  /** Successful sends (the first and the resends); a send that failed is not counted. */
  @Property({ type: 'integer' })
  sendCount = 0;

  @Property({ type: 'datetime', nullable: true })
  lastSentAt?: Date | null;

  /** Codes checked with the provider, wrong ones included; reserved before each check. */
  @Property({ type: 'integer' })
  codeAttempts = 0;

  /** The latest send reserved (in flight or done): the reference the provider was given, and by what channel. */
  @Property({ type: 'text', nullable: true, unique: 'otp_challenge_send_reference_unique' })
  sendReference?: string | null;

  @Property({ type: 'text', nullable: true })
  sendChannel?: Channel | null;

  /** Set when the provider reports the latest code undelivered; cleared by the next send. */
  @Property({ type: 'datetime', nullable: true })
  deliveryFailedAt?: Date | null;

  /** The provider's id of the verification the latest code belongs to. */
  @Index({ name: 'otp_challenge_verification_id_index' })
  @Property({ type: 'text', nullable: true })
  verificationId?: string | null;

  @Property({ type: 'text', nullable: true })
  channel?: Channel | null;

  @Property({ type: 'datetime', nullable: true })
  codeExpiresAt?: Date | null;

  /** The pending token's expiry. */
  @Index()
  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  consumedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt!: Date;
}

/**
 * What judging a code reads of a challenge: the entity, or the plain row verifyOtp's first
 * statement answers (`OtpChallengeRepository.reserveCodeAttempt`), which no unit of work holds.
 */
export interface ChallengeView {
  id: string;
  purpose: ChallengePurpose;
  phoneNumber?: string | null;
  channel?: Channel | null;
  verificationId?: string | null;
  codeAttempts: number;
  user: Pick<User, 'id' | 'phoneNumber' | 'phoneVerifiedAt'>;
  session?: { id: string } | null;
}

/** Where this challenge's codes go: the new number of a phone change, else the user's own. */
export function destinationOf(challenge: Pick<ChallengeView, 'phoneNumber' | 'user'>): string {
  return challenge.phoneNumber ?? challenge.user.phoneNumber;
}
