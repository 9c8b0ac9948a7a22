import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { AuthEventType } from './auth-event.entity';

registerEnumType(AuthEventType, { name: 'AuthEventType' });

@ObjectType('AuthEvent')
export class AuthEventNode {
  @Field(() => ID)
  id!: string;

  @Field(() => AuthEventType)
  type!: AuthEventType;

  @Field()
  at!: Date;

  @Field(() => String, { nullable: true })
  ipAddress!: string | null;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => ID, { nullable: true })
  sessionId!: string | null;

  @Field(() => String, { nullable: true, description: 'E.g. the channel, a masked number, "reuse of a rotated token".' })
  detail!: string | null;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class AuthEventEdge {
  @Field()
  cursor!: string;

  @Field(() => AuthEventNode)
  node!: AuthEventNode;
}

@ObjectType()
export class AuthEventConnection {
  @Field(() => [AuthEventEdge])
  edges!: AuthEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
