import { randomUUID } from 'node:crypto';
import { ArrayType, Entity, EntityRepositoryType, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../users/user.entity';
import { SessionRepository } from './session.repository';

/**
 * One sign-in (password and second factor), renewed by refresh tokens until it ends. A session
 * that ends (logout, revocation, reuse of a rotated refresh token) is deleted with its refresh
 * tokens, so "live" is simply: the row exists and neither expiry has passed.
 */
@Entity({ tableName: 'auth_session', repository: () => SessionRepository })
export class AuthSession {
  [EntityRepositoryType]?: SessionRepository;
  [OptionalProps]?: 'id';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  @Index()
  user!: User;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  /** The latest sign-in, refresh or step-up. */
  @Property({ type: 'datetime' })
  lastUsedAt!: Date;

  /** Absolute end, whatever the refreshes. */
  @Index()
  @Property({ type: 'datetime' })
  expiresAt!: Date;

  /** When the newest refresh token expires unused: the session's idle end. */
  @Index()
  @Property({ type: 'datetime' })
  idleExpiresAt!: Date;

  /** When a second factor was last proven in this session (`auth_time`). */
  @Property({ type: 'datetime' })
  authenticatedAt!: Date;

  /** RFC 8176 method references, as in the access token. */
  @Property({ type: ArrayType })
  amr!: string[];

  @Property({ type: 'text', nullable: true })
  userAgent?: string | null;

  /** The client address at the latest use. */
  @Property({ type: 'text', nullable: true })
  ipAddress?: string | null;
}
