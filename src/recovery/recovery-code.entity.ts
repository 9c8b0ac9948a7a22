import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../users/user.entity';

/**
 * One recovery code of a user's current set, as a hash (see recovery-codes.ts). Used once:
 * `usedAt` is set by a conditional update, so of two concurrent uses exactly one wins.
 */
@Entity({ tableName: 'recovery_code' })
@Unique({ properties: ['user', 'codeHash'] })
export class RecoveryCode {
  [OptionalProps]?: 'id';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Property({ type: 'text' })
  codeHash!: string;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  usedAt?: Date | null;
}
