import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { GraphQLLimits } from '../config/config';
import { isAppError } from '../errors/app-error';
import { maskLiterals } from '../logging/logger';
import { graphqlMetrics } from '../metrics/graphql-plugin';
import type { Metrics } from '../metrics/metrics';
import type { GraphQLContext } from './context';
import { costLimit } from './cost-limit';
import { contractErrorOf, formatError, REQUEST_ERROR_CODES } from './format-error';
import { sandboxWithOfflineFallback } from './landing-page';

export function createApollo(
  schema: GraphQLSchema,
  options: { production: boolean; limits: GraphQLLimits; landingPage?: { document: string; fallbackPath: string }; metrics?: Metrics },
): ApolloServer<GraphQLContext> {
  // Refuses oversized documents before they run: depth, aliases, tokens (and cost, below); and in production, no "did you mean" hints that map the schema for an attacker.
  const armor = new ApolloArmor({
    // Fragments (as a codegen client kit writes them) add no depth of their own: fields do.
    maxDepth: { n: options.limits.maxDepth, flattenFragments: true },
    // __typename counts too (armor leaves it out by default): more than the limit is refused, whatever the field.
    maxAliases: { n: options.limits.maxAliases, allowList: [] },
    // Costed with the variables instead (cost-limit.ts): armor's rule priced inline page sizes only.
    costLimit: { enabled: false },
    // Counted by graphql-js's own parser below: armor's token plugin throws from a hook, which
    // Apollo answers with a 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: 10 },
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
  return new ApolloServer<GraphQLContext>({
    schema,
    validationRules: [...armor.validationRules, noSubscriptions],
    parseOptions: { maxTokens: options.limits.maxTokens },
    formatError: (formatted, error) => formatError(formatted, error, { production: options.production }),
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    // One orderly shutdown (main.ts) stops HTTP, Apollo, the ORM and PostgreSQL in turn.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Automatic persisted queries are not offered: a bad hash would surface as an uncoded error.
    persistedQueries: false,
    plugins: [
      ...armor.plugins,
      costLimit(schema, options.limits.maxCost),
      options.landingPage ? sandboxWithOfflineFallback(options.landingPage) : ApolloServerPluginLandingPageDisabled(),
      errorLogging,
      // Apollo installs cache control by default: a hook on every field resolved, for cache hints
      // this service never gives (every answer is per user, and mutations are POSTs).
      ApolloServerPluginCacheControlDisabled(),
      // Off: no plugin at all, so no per-request cost.
      ...(options.metrics ? [graphqlMetrics(schema, options.metrics)] : []),
    ],
  });
}

/** The service has no subscriptions: say so in validation (a 400), not as graphql-js's uncoded execution error. */
const noSubscriptions: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === 'subscription')
      context.reportError(new GraphQLError('Subscriptions are not supported by this service.', { nodes: [node] }));
  },
});

/** Contract errors are expected outcomes (debug); anything else is a bug or an outage (error). */
const errorLogging: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ contextValue, errors, operationName }) {
        for (const error of errors) {
          const original = contractErrorOf(error.originalError ?? error);
          if (isAppError(original)) {
            const level = original.code === 'INTERNAL_SERVER_ERROR' || original.code === 'PROVIDER_UNAVAILABLE' ? 'warn' : 'debug';
            contextValue.logger[level]({ errorCode: original.code, operationName, cause: describe(original.cause) }, 'request refused');
          } else if (error.path) {
            contextValue.logger.error({ err: original, operationName }, 'unexpected error in a resolver');
          } else if (REQUEST_ERROR_CODES.has(error.extensions?.code as string)) {
            // Not the message: variable-coercion messages quote the input, passwords included.
            contextValue.logger.debug({ errorCode: error.extensions?.code, operationName }, 'malformed GraphQL request');
          } else {
            // Neither a resolver's nor a request error of Apollo's: masked for the client, so logged in full here.
            contextValue.logger.error({ err: original, operationName }, 'unexpected error outside the resolvers');
          }
        }
      },
    };
  },
};

function describe(cause: unknown): string | undefined {
  return cause instanceof Error ? maskLiterals(`${cause.name}: ${cause.message}`) : cause === undefined ? undefined : maskLiterals(String(cause));
}
