import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { GraphQLSchema } from 'graphql';
import { isAppError } from '../errors/app-error';
import type { GraphQLContext } from './context';
import { formatError } from './format-error';

export function createApollo(schema: GraphQLSchema, options: { production: boolean }): ApolloServer<GraphQLContext> {
  return new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    // One orderly shutdown (main.ts) stops HTTP, Apollo, the ORM and PostgreSQL in turn.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    plugins: [
      options.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      errorLogging,
    ],
  });
}

/** Contract errors are expected outcomes (debug); anything else is a bug or an outage (error). */
const errorLogging: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ contextValue, errors, operationName }) {
        for (const error of errors) {
          const original = error.originalError ?? error;
          if (isAppError(original)) {
            const level = original.code === 'INTERNAL_SERVER_ERROR' || original.code === 'PROVIDER_UNAVAILABLE' ? 'warn' : 'debug';
            contextValue.logger[level]({ code: original.code, operationName, cause: describe(original.cause) }, 'request refused');
          } else if (error.path) {
            contextValue.logger.error({ err: original, operationName }, 'unexpected error in a resolver');
          } else {
            contextValue.logger.debug({ message: error.message, operationName }, 'malformed GraphQL request');
          }
        }
      },
    };
  },
};

function describe(cause: unknown): string | undefined {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : cause === undefined ? undefined : String(cause);
}
