import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin, GraphQLRequestContext, GraphQLRequestListener } from '@apollo/server';
import { Kind, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { ERROR_MESSAGES } from '../errors/app-error';
import type { GraphQLContext } from '../graphql/context';
import { REQUEST_ERROR_CODES } from '../graphql/format-error';
import type { Metrics } from './metrics';

/**
 * `graphql_requests_total` and `graphql_request_duration_seconds` per operation and result code.
 * Labels are bounded: the operation is the root field it asks for (`me`, `verifyOtp`), "multiple"
 * when it asks for several, "unknown" when it names none of the schema's (introspection, a
 * document that did not parse); the code is "OK", one of our codes or Apollo's, else "OTHER".
 */
export function graphqlMetrics(schema: GraphQLSchema, metrics: Metrics): ApolloServerPlugin<GraphQLContext> {
  const fields = new Set([...Object.keys(schema.getQueryType()?.getFields() ?? {}), ...Object.keys(schema.getMutationType()?.getFields() ?? {})]);
  const codes = new Set<unknown>([...Object.keys(ERROR_MESSAGES), ...REQUEST_ERROR_CODES]);
  const label = { fields, codes, metrics };
  return {
    async requestDidStart() {
      return new Timing(label);
    },
  };
}

interface Labels {
  fields: Set<string>;
  codes: Set<unknown>;
  metrics: Metrics;
}

/** One small object per request, no closure: the start time and where to record it. */
class Timing implements GraphQLRequestListener<GraphQLContext> {
  private readonly started = performance.now();

  constructor(private readonly labels: Labels) {}

  async willSendResponse({ operation, response }: GraphQLRequestContext<GraphQLContext>): Promise<void> {
    const { body } = response;
    // No incremental delivery here (no @defer), but its first part carries the errors as well.
    const errors = body === undefined ? undefined : 'singleResult' in body ? body.singleResult.errors : body.initialResult.errors;
    const code = errors?.length ? this.codeOf(errors[0].extensions?.code) : 'OK';
    this.labels.metrics.graphqlRequest(this.operationOf(operation), code, (performance.now() - this.started) / 1000);
  }

  private codeOf(code: unknown): string {
    return this.labels.codes.has(code) ? (code as string) : 'OTHER';
  }

  private operationOf(operation: OperationDefinitionNode | undefined): string {
    let name: string | undefined;
    for (const selection of operation?.selectionSet.selections ?? []) {
      if (selection.kind !== Kind.FIELD) return 'unknown';
      const field = selection.name.value;
      if (field.startsWith('__')) continue;
      if (name !== undefined && name !== field) return 'multiple';
      name = field;
    }
    return name !== undefined && this.labels.fields.has(name) ? name : 'unknown';
  }
}
