import { Arg, Authorized, Ctx, Directive, Int, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { type AuditTrail, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './audit-trail';
import { pageCost } from '../graphql/cost-limit';
import { AuthEventConnection } from './audit.types';

@Resolver()
export class AuditResolver {
  constructor(private readonly audit: AuditTrail) {}

  @Directive('@sessionsPerIp')
  @Authorized()
  @Query(() => AuthEventConnection, {
    description: "Bearer: the user's own audit trail, newest first; first ≤ 100.",
    complexity: pageCost('first', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  })
  async authEvents(
    @Arg('first', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthEventConnection> {
    const page = await this.audit.page(ctx.viewer!.userId, first ?? DEFAULT_PAGE_SIZE, after);
    const edges = page.events.map(({ cursor, event }) => ({
      cursor,
      node: {
        id: event.id,
        type: event.type,
        at: event.at,
        ipAddress: event.ipAddress ?? null,
        userAgent: event.userAgent ?? null,
        sessionId: event.sessionId ?? null,
        detail: event.detail ?? null,
      },
    }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  }
}
