import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type AuthChecker } from 'type-graphql';
import { AuthResolver } from '../auth/auth.resolver';
import type { AuthService } from '../auth/auth.service';
import { AppError } from '../errors/app-error';
import { OtpResolver } from '../otp/otp.resolver';
import type { OtpService } from '../otp/otp.service';
import type { TokenService } from '../tokens/token-service';
import { UserResolver } from '../users/user.resolver';
import type { GraphQLContext } from './context';

export interface SchemaServices {
  auth: AuthService;
  otp: OtpService;
  tokens: TokenService;
}

export const RESOLVERS = [AuthResolver, OtpResolver, UserResolver] as const;

/** Resolvers are built here, once, from the composed services (no DI container needed). */
export function buildAppSchema(services: SchemaServices): Promise<GraphQLSchema> {
  const instances = new Map<Function, unknown>([
    [AuthResolver, new AuthResolver(services.auth)],
    [OtpResolver, new OtpResolver(services.otp)],
    [UserResolver, new UserResolver(services.auth)],
  ]);
  return buildSchema({
    resolvers: RESOLVERS,
    container: { get: (resolverClass) => instances.get(resolverClass) },
    authChecker: accessTokenChecker(services.tokens),
    // Inputs are validated by the services, which know which code each failure deserves.
    validate: false,
  });
}

/** `@Authorized()` fields need `Authorization: Bearer <access token>`; anything else is refused. */
function accessTokenChecker(tokens: TokenService): AuthChecker<GraphQLContext> {
  return async ({ context }) => {
    const match = /^Bearer\s+(\S+)$/i.exec(context.authorization?.trim() ?? '');
    if (!match) throw new AppError('UNAUTHENTICATED');
    context.viewer = await tokens.verifyAccess(match[1]);
    return true;
  };
}
