import 'reflect-metadata';
import { type GraphQLSchema, specifiedDirectives } from 'graphql';
import { type AuthChecker, type BuildSchemaOptions, buildSchema } from 'type-graphql';
import type { RateLimitPolicy, Window } from '../config/config';
import { applyRateLimits, rateLimitDirectiveDefinitions } from '../rate-limits/directives';
import type { LimiterStore } from '../rate-limits/limiter-store';
import type { Metrics } from '../metrics/metrics';
import { AccountResolver } from '../account/account.resolver';
import type { AccountService } from '../account/account.service';
import type { AuditTrail } from '../audit/audit-trail';
import { AuditResolver } from '../audit/audit.resolver';
import { AuthResolver } from '../auth/auth.resolver';
import type { RecoveryCodes } from '../recovery/recovery-codes';
import type { AuthService } from '../auth/auth.service';
import { AppError } from '../errors/app-error';
import { OtpResolver } from '../otp/otp.resolver';
import type { OtpService } from '../otp/otp.service';
import { SessionResolver } from '../sessions/session.resolver';
import type { SessionService } from '../sessions/session.service';
import { UserResolver } from '../users/user.resolver';
import type { GraphQLContext } from './context';

export interface SchemaServices {
  auth: AuthService;
  otp: OtpService;
  sessions: SessionService;
  account: AccountService;
  audit: AuditTrail;
  recoveryCodes: RecoveryCodes;
}

export const RESOLVERS = [AuthResolver, OtpResolver, SessionResolver, AccountResolver, AuditResolver, UserResolver] as const;

/** What the schema is made of, with or without services behind it (see print-schema.ts). */
export function schemaOptions(policies: Record<RateLimitPolicy, Window>) {
  return {
    resolvers: RESOLVERS,
    // Given directives replace graphql-js's own: @include, @skip, @deprecated and @specifiedBy stay.
    directives: [...specifiedDirectives, ...rateLimitDirectiveDefinitions(policies)],
    // Inputs are validated by the services, which know which code each failure deserves.
    validate: false,
  } satisfies BuildSchemaOptions;
}

/** Resolvers are built here, once, from the composed services (no DI container needed). */
export async function buildAppSchema(
  services: SchemaServices,
  limits: { policies: Record<RateLimitPolicy, Window>; store: LimiterStore; metrics: Metrics },
): Promise<GraphQLSchema> {
  const instances = new Map<Function, unknown>([
    [AuthResolver, new AuthResolver(services.auth)],
    [OtpResolver, new OtpResolver(services.otp)],
    [SessionResolver, new SessionResolver(services.sessions)],
    [AccountResolver, new AccountResolver(services.account)],
    [AuditResolver, new AuditResolver(services.audit)],
    [UserResolver, new UserResolver(services.recoveryCodes)],
  ]);
  const schema = await buildSchema({
    ...schemaOptions(limits.policies),
    container: { get: (resolverClass) => instances.get(resolverClass) },
    authChecker: accessTokenChecker(services.sessions),
  });
  return applyRateLimits(schema, limits.policies, limits.store, limits.metrics);
}

/**
 * `@Authorized()` fields need `Authorization: Bearer <access token>` of a live session; anything
 * else is refused. Checked once per request, however many such fields it asks for.
 */
function accessTokenChecker(sessions: SessionService): AuthChecker<GraphQLContext> {
  return async ({ context }) => {
    if (context.viewer) return true;
    const match = /^Bearer\s+(\S+)$/i.exec(context.authorization?.trim() ?? '');
    if (!match) throw new AppError('UNAUTHENTICATED');
    context.viewer = await sessions.authenticate(match[1]);
    return true;
  };
}
