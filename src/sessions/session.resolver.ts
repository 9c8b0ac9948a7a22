import { Arg, Authorized, Ctx, Directive, Int, Mutation, Query, Resolver } from 'type-graphql';
import { AuthPayload } from '../auth/auth.types';
import type { GraphQLContext } from '../graphql/context';
import type { SessionService } from './session.service';
import { RefreshSessionInput, RevokeSessionInput, SessionType } from './session.types';

@Resolver()
export class SessionResolver {
  constructor(private readonly service: SessionService) {}

  @Directive('@refreshSessionPerIp')
  @Mutation(() => AuthPayload, { description: 'No bearer needed: the refresh token is the credential.' })
  async refreshSession(@Arg('input', () => RefreshSessionInput) input: RefreshSessionInput, @Ctx() ctx: GraphQLContext): Promise<AuthPayload> {
    return AuthPayload.from(await this.service.refresh(input.refreshToken, ctx.client));
  }

  @Directive('@sessionsPerIp')
  @Authorized()
  @Query(() => [SessionType], { description: "Bearer: the user's live sessions, newest first." })
  async sessions(@Ctx() ctx: GraphQLContext): Promise<SessionType[]> {
    const { userId, sessionId } = ctx.viewer!;
    return (await this.service.list(userId)).map((session) => SessionType.from(session, session.id === sessionId));
  }

  @Directive('@sessionsPerIp')
  @Authorized()
  @Mutation(() => Boolean, { description: 'Bearer: ends its own session.' })
  async logout(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    await this.service.logout(ctx.viewer!, ctx.client);
    return true;
  }

  @Directive('@sessionsPerIp')
  @Authorized()
  @Mutation(() => Int, { description: 'Bearer: ends every session of the user; answers how many.' })
  logoutEverywhere(@Ctx() ctx: GraphQLContext): Promise<number> {
    return this.service.logoutEverywhere(ctx.viewer!, ctx.client);
  }

  @Directive('@sessionsPerIp')
  @Authorized()
  @Mutation(() => Boolean, { description: "Bearer: one of the user's own sessions; false if no such live session." })
  revokeSession(@Arg('input', () => RevokeSessionInput) input: RevokeSessionInput, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return this.service.revoke(ctx.viewer!, input.sessionId, ctx.client);
  }
}
