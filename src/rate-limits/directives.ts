import { buildSchema as buildSdlSchema, type GraphQLDirective, type GraphQLSchema } from 'graphql';
import { rateLimitDirective } from 'graphql-rate-limit-directive';
import type { RateLimitPolicy, Window } from '../config/config';
import { AppError } from '../errors/app-error';
import { secondsToWait } from '../time/clock';
import type { Metrics } from '../metrics/metrics';
import type { GraphQLContext } from '../graphql/context';
import { ipBucket } from './ip-bucket';
import type { LimiterStore } from './limiter-store';

type Args = Record<string, any>;

/**
 * Policies counted by the service rather than by a directive: login's per-email-and-network count
 * is taken by PasswordAttempts together with the account lookup (one round trip less per login).
 */
type DirectivePolicy = Exclude<RateLimitPolicy, 'loginPerEmail'>;

/**
 * What each directive counts by. Every policy is its own directive (and its own key prefix), so a
 * key needs no field name in it; limits come from the config as the directive's default arguments.
 */
const COUNT_BY: Record<DirectivePolicy, (args: Args, context: GraphQLContext) => string> = {
  registerPerIp: (_args, context) => ipBucket(context.ip),
  loginPerIp: (_args, context) => ipBucket(context.ip),
  requestOtpPerIp: (_args, context) => ipBucket(context.ip),
  verifyOtpPerIp: (_args, context) => ipBucket(context.ip),
  otpStatusPerIp: (_args, context) => ipBucket(context.ip),
  mePerIp: (_args, context) => ipBucket(context.ip),
  refreshSessionPerIp: (_args, context) => ipBucket(context.ip),
  sessionsPerIp: (_args, context) => ipBucket(context.ip),
  verifyRecoveryCodePerIp: (_args, context) => ipBucket(context.ip),
  accountChangesPerIp: (_args, context) => ipBucket(context.ip),
};

const DIRECTIVE_POLICIES = Object.keys(COUNT_BY) as DirectivePolicy[];

/**
 * Per-address throttles are counted in each process and synced to the PostgreSQL store every
 * second (see SyncedLimiter): a counter write per request would cost more than `me` itself.
 * Limits on an identity (an email, a number, a user) are counted in the store on every request.
 */
const SYNCED_POLICIES: ReadonlySet<DirectivePolicy> = new Set(DIRECTIVE_POLICIES.filter((policy) => policy.endsWith('PerIp')));

function directiveFor(policy: DirectivePolicy, window: Window, store?: LimiterStore, metrics?: Metrics) {
  return rateLimitDirective({
    name: policy,
    defaultLimit: String(window.limit),
    defaultDuration: String(window.durationSeconds),
    keyGenerator: (_directiveArgs, _source, args, context: GraphQLContext) => COUNT_BY[policy](args, context),
    limiterClass: store?.limiterClass(SYNCED_POLICIES.has(policy) ? 'synced' : 'shared') as never,
    onLimit: (response) => {
      metrics?.limiterRefusal(policy);
      throw new AppError('RATE_LIMITED', { extensions: { retryAfterSeconds: secondsToWait(response.msBeforeNext) } });
    },
  });
}

/** The directive definitions, for building the schema (`@loginPerIp` and the others). */
export function rateLimitDirectiveDefinitions(policies: Record<RateLimitPolicy, Window>): GraphQLDirective[] {
  return DIRECTIVE_POLICIES.map((policy) => {
    const sdl = `${directiveFor(policy, policies[policy]).rateLimitDirectiveTypeDefs}\ntype Query { _: Int }`;
    return buildSdlSchema(sdl).getDirective(policy)!;
  });
}

/** Wraps every resolver that carries a rate-limit directive with its limiter. */
export function applyRateLimits(
  schema: GraphQLSchema,
  policies: Record<RateLimitPolicy, Window>,
  store: LimiterStore,
  metrics: Metrics,
): GraphQLSchema {
  return DIRECTIVE_POLICIES.reduce(
    (limited, policy) => directiveFor(policy, policies[policy], store, metrics).rateLimitDirectiveTransformer(limited),
    schema,
  );
}
