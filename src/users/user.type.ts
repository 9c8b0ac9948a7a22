import { Field, ID, ObjectType } from 'type-graphql';
import type { User } from './user.entity';

@ObjectType('User')
export class UserType {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field({ description: 'E.164, shown only to its owner' })
  phoneNumber!: string;

  @Field()
  phoneVerified!: boolean;

  @Field()
  createdAt!: Date;

  static from(user: User): UserType {
    return Object.assign(new UserType(), {
      id: user.id,
      email: user.email,
      phoneNumber: user.phoneNumber,
      phoneVerified: Boolean(user.phoneVerifiedAt),
      createdAt: user.createdAt,
    });
  }
}
