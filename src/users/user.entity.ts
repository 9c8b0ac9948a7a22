import { randomUUID } from 'node:crypto';
import { Entity, EntityRepositoryType, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { UserRepository } from './user.repository';

@Entity({ tableName: 'app_user', repository: () => UserRepository })
// Emails are unique whatever their case; the index is created by the migration.
@Index({ name: 'app_user_email_lower_unique', expression: 'create unique index "app_user_email_lower_unique" on "app_user" (lower("email"))' })
export class User {
  [EntityRepositoryType]?: UserRepository;
  [OptionalProps]?: 'id';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** As the user typed it (trimmed, NFC); compared case-insensitively. */
  @Property({ type: 'text' })
  email!: string;

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
