import { Authorized, Ctx, Directive, Query, Resolver } from 'type-graphql';
import type { AuthService } from '../auth/auth.service';
import type { GraphQLContext } from '../graphql/context';
import { UserType } from './user.type';

@Resolver()
export class UserResolver {
  constructor(private readonly auth: AuthService) {}

  @Directive('@mePerIp')
  @Authorized()
  @Query(() => UserType, { description: 'Needs `Authorization: Bearer <accessToken>`.' })
  async me(@Ctx() ctx: GraphQLContext): Promise<UserType> {
    return UserType.from(await this.auth.findUser(ctx.viewer!.userId));
  }
}
