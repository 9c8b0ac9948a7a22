import { Field, ID, InputType, ObjectType } from 'type-graphql';
import type { AuthSession } from './session.entity';

@ObjectType('Session')
export class SessionType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'The sign-in (password + second factor) that began it.' })
  createdAt!: Date;

  @Field({ description: 'The latest refresh (or createdAt).' })
  lastUsedAt!: Date;

  @Field({ description: 'Absolute end: then sign in again, whatever the refreshes.' })
  expiresAt!: Date;

  @Field({ description: 'When a second factor was last proven in this session.' })
  authenticatedAt!: Date;

  @Field(() => [String], { description: 'As in the access token.' })
  amr!: string[];

  @Field(() => String, { nullable: true, description: 'As sent at sign-in, at most 256 characters.' })
  userAgent!: string | null;

  @Field(() => String, { nullable: true, description: 'The client address at the latest use.' })
  ipAddress!: string | null;

  @Field({ description: 'The session of the access token making this request.' })
  current!: boolean;

  static from(session: AuthSession, current: boolean): SessionType {
    return Object.assign(new SessionType(), {
      id: session.id,
      createdAt: session.createdAt,
      lastUsedAt: session.lastUsedAt,
      expiresAt: session.expiresAt,
      authenticatedAt: session.authenticatedAt,
      amr: session.amr,
      userAgent: session.userAgent ?? null,
      ipAddress: session.ipAddress ?? null,
      current,
    });
  }
}

@InputType()
export class RefreshSessionInput {
  @Field()
  refreshToken!: string;
}

@InputType()
export class RevokeSessionInput {
  @Field(() => ID)
  sessionId!: string;
}
