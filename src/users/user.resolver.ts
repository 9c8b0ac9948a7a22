import { Authorized, Ctx, Directive, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import type { RecoveryCodes } from '../recovery/recovery-codes';
import { UserType } from './user.type';

@Resolver(() => UserType)
export class UserResolver {
  constructor(private readonly recoveryCodes: RecoveryCodes) {}

  @Directive('@mePerIp')
  @Authorized()
  @Query(() => UserType, { description: 'Needs `Authorization: Bearer <accessToken>`.' })
  me(@Ctx() ctx: GraphQLContext): UserType {
    // Read with the session by the auth checker, in the same query.
    return UserType.from(ctx.viewer!.user);
  }

  /** Counted only when asked for: `me { id email }` stays one query. */
  @FieldResolver(() => Int, { description: 'Unused recovery codes; 0: offer the user a new set.' })
  recoveryCodesRemaining(@Root() user: UserType): Promise<number> {
    return this.recoveryCodes.remaining(user.id);
  }
}
