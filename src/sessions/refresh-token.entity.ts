import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import type { Rel } from '@mikro-orm/core';
import { AuthSession } from './session.entity';

/**
 * One link of a session's refresh-token chain. Only the SHA-256 of the token is stored (the token
 * is 256 random bits, so a fast hash is enough: there is nothing to brute-force). A token is
 * single-use: `usedAt` is set when it is rotated, and it is kept (to detect reuse) until it expires.
 */
@Entity({ tableName: 'refresh_token' })
export class RefreshToken {
  @PrimaryKey({ type: 'text' })
  tokenHash!: string;

  @ManyToOne(() => AuthSession, { deleteRule: 'cascade' })
  @Index()
  session!: Rel<AuthSession>;

  /** The token this one replaced (null for the first of a session): the chain. */
  @Property({ type: 'text', nullable: true })
  previousHash?: string | null;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Index()
  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  usedAt?: Date | null;
}
