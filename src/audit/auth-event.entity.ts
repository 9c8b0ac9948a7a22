import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../users/user.entity';

/** The contract's `AuthEventType`. */
export enum AuthEventType {
  REGISTERED = 'REGISTERED',
  LOGIN_SUCCEEDED = 'LOGIN_SUCCEEDED',
  LOGIN_FAILED = 'LOGIN_FAILED',
  OTP_SENT = 'OTP_SENT',
  OTP_VERIFIED = 'OTP_VERIFIED',
  OTP_FAILED = 'OTP_FAILED',
  RECOVERY_CODE_USED = 'RECOVERY_CODE_USED',
  RECOVERY_CODES_REGENERATED = 'RECOVERY_CODES_REGENERATED',
  SESSION_REFRESHED = 'SESSION_REFRESHED',
  SESSION_REUSE_DETECTED = 'SESSION_REUSE_DETECTED',
  LOGGED_OUT = 'LOGGED_OUT',
  SESSION_REVOKED = 'SESSION_REVOKED',
  PASSWORD_CHANGED = 'PASSWORD_CHANGED',
  PHONE_NUMBER_CHANGED = 'PHONE_NUMBER_CHANGED',
  STEP_UP_VERIFIED = 'STEP_UP_VERIFIED',
}

/**
 * One line of a user's audit trail. Never a password, code, token or full phone number: `detail`
 * holds a channel, a masked number or a short reason. Deleted with the user, or after the
 * retention period.
 */
@Entity({ tableName: 'auth_event' })
@Index({ name: 'auth_event_user_seq_index', properties: ['user', 'seq'] })
@Index({ name: 'auth_event_user_network_index', properties: ['user', 'ipNetwork'] })
export class AuthEvent {
  [OptionalProps]?: 'id' | 'seq';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** Insertion order (a bigserial the database assigns; events are written by plain inserts): newest first means highest first. */
  @Property({ type: 'bigint', autoincrement: true })
  seq!: string;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Enum({ items: () => AuthEventType, nativeEnumName: 'auth_event_type' })
  type!: AuthEventType;

  @Index()
  @Property({ type: 'datetime' })
  at!: Date;

  @Property({ type: 'text', nullable: true })
  ipAddress?: string | null;

  /** The client's network (its address, or its IPv6 /64): where the account signed in from. */
  @Property({ type: 'text', nullable: true })
  ipNetwork?: string | null;

  @Property({ type: 'text', nullable: true })
  userAgent?: string | null;

  /** The session it concerns; not a foreign key, the session may be long gone. */
  @Property({ type: 'uuid', nullable: true })
  sessionId?: string | null;

  @Property({ type: 'text', nullable: true })
  detail?: string | null;
}
