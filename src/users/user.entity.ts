import { randomUUID } from 'node:crypto';
import { Entity, EntityRepositoryType, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { UserRepository } from './user.repository';

@Entity({ tableName: 'app_user', repository: () => UserRepository })
export class User {
  [EntityRepositoryType]?: UserRepository;
  [OptionalProps]?: 'id';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** As the user typed it (trimmed, NFC); shown, never compared. */
  @Property({ type: 'text' })
  email!: string;

  /** `canonicalEmail(email)`: what lookups, uniqueness and the per-email limiter compare. */
  @Property({ type: 'text', unique: 'app_user_email_canonical_unique' })
  emailCanonical!: string;

  /** E.164. */
  @Index({ name: 'app_user_phone_number_index' })
  @Property({ type: 'text' })
  phoneNumber!: string;

  @Property({ type: 'text', hidden: true, lazy: false })
  passwordHash!: string;

  @Property({ type: 'datetime', nullable: true })
  phoneVerifiedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Property({ type: 'datetime' })
  updatedAt!: Date;
}

/** A user's row as plain data, read without the ORM where each request reads it (see queryPrepared). */
export type UserRecord = Pick<
  User,
  'id' | 'email' | 'emailCanonical' | 'phoneNumber' | 'passwordHash' | 'phoneVerifiedAt' | 'createdAt' | 'updatedAt'
>;
