import { Authorized, Ctx, Directive, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { UserType } from './user.type';

@Resolver()
export class UserResolver {
  @Directive('@mePerIp')
  @Authorized()
  @Query(() => UserType, { description: 'Needs `Authorization: Bearer <accessToken>`.' })
  me(@Ctx() ctx: GraphQLContext): UserType {
    // Read with the session by the auth checker, in the same query.
    return UserType.from(ctx.viewer!.user);
  }
}
