import { Field, InputType, ObjectType } from 'type-graphql';
import { OtpChannel } from '../otp/otp.types';
import type { SessionGrant } from '../sessions/session.service';
import { SessionType } from '../sessions/session.types';
import { UserType } from '../users/user.type';

@InputType()
export class RegisterInput {
  @Field()
  email!: string;

  @Field()
  password!: string;

  @Field({ description: 'Any common notation; stored as E.164.' })
  phoneNumber!: string;

  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2 region for numbers written without +CC.' })
  country?: string | null;
}

@InputType()
export class LoginInput {
  @Field()
  email!: string;

  @Field()
  password!: string;
}

@ObjectType()
export class PendingAuth {
  @Field({ description: 'Short-lived; proves "password OK, second factor missing".' })
  pendingToken!: string;

  @Field()
  expiresAt!: Date;

  @Field({ description: 'Masked: only the country code and the last 2 digits readable.' })
  phoneNumberHint!: string;

  @Field(() => [OtpChannel])
  channels!: OtpChannel[];
}

@ObjectType()
export class AuthPayload {
  @Field({ description: 'The full JWT.' })
  accessToken!: string;

  @Field({ description: '"Bearer"' })
  tokenType!: string;

  @Field()
  expiresAt!: Date;

  @Field(() => UserType)
  user!: UserType;

  @Field({ description: 'Opaque and single-use: refreshSession answers a new one.' })
  refreshToken!: string;

  @Field({ description: 'This refresh token stops working then if unused.' })
  refreshExpiresAt!: Date;

  @Field(() => SessionType)
  session!: SessionType;

  /** Every AuthPayload belongs to the session its tokens are of: `current` is true. */
  static from(grant: SessionGrant): AuthPayload {
    return Object.assign(new AuthPayload(), {
      accessToken: grant.accessToken,
      tokenType: 'Bearer',
      expiresAt: grant.expiresAt,
      user: UserType.from(grant.user),
      refreshToken: grant.refreshToken,
      refreshExpiresAt: grant.refreshExpiresAt,
      session: SessionType.from(grant.session, true),
    });
  }
}
