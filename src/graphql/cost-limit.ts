import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { type DocumentNode, GraphQLError, type GraphQLSchema, Kind, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { type ComplexityEstimator, fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { GraphQLContext } from './context';

/**
 * Refuses an operation whose cost exceeds `maxCost` (GRAPHQL_MAX_COST): one point per field, a
 * list field's selection counted once per item it may return (`pageCost` on the field). Computed
 * with the operation's variables, so a page size costs the same written inline or as a variable
 * (graphql-armor's cost rule multiplied inline `first:` literals only, and by any value, so
 * `authEvents(first: 78)` was refused inline and `first: 1000` was refused for its cost rather
 * than answered BAD_USER_INPUT). An operation whose cost its variables cannot change (every sign-in
 * step's: only page sizes are priced) is costed once per document.
 */
export function costLimit(schema: GraphQLSchema, maxCost: number): ApolloServerPlugin<GraphQLContext> {
  const limit: CostLimit = { schema, maxCost, fixed: new WeakMap() };
  return {
    async requestDidStart() {
      return new CostCheck(limit);
    },
  };
}

/** A list field's cost: its selection once per item, the page size read from `argument` and counted within 1..`max` (the resolver refuses the rest as BAD_USER_INPUT). */
export function pageCost(argument: string, defaultSize: number, max: number): ComplexityEstimator {
  return ({ args, childComplexity }) => {
    const size = Number.isInteger(args[argument]) ? (args[argument] as number) : defaultSize;
    return 1 + childComplexity * Math.min(max, Math.max(1, size));
  };
}

interface CostLimit {
  schema: GraphQLSchema;
  maxCost: number;
  /** Documents whose cost their variables cannot change. */
  fixed: WeakMap<DocumentNode, number>;
}

const ESTIMATORS = [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];

class CostCheck implements GraphQLRequestListener<GraphQLContext> {
  constructor(private readonly limit: CostLimit) {}

  async didResolveOperation({
    request,
    document,
    operationName,
  }: Parameters<NonNullable<GraphQLRequestListener<GraphQLContext>['didResolveOperation']>>[0]): Promise<void> {
    const { schema, maxCost, fixed } = this.limit;
    let cost = fixed.get(document);
    if (cost === undefined) {
      try {
        cost = getComplexity({
          schema,
          query: document,
          variables: request.variables ?? {},
          operationName: operationName ?? undefined,
          estimators: ESTIMATORS,
        });
      } catch {
        // Variables that do not coerce: execution refuses them (BAD_USER_INPUT) before any resolver runs.
        return;
      }
      if (!dependsOnVariables(schema, document)) fixed.set(document, cost);
    }
    if (cost > maxCost) {
      throw new GraphQLError(`The operation's cost (${cost}) is over the limit of ${maxCost}: ask for fewer fields or smaller pages.`, {
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
      });
    }
  }
}

/**
 * Whether the cost can change with the variables: several operations (the one run is named per
 * request), or a variable given to an argument of a field that prices its arguments (`pageCost`).
 */
function dependsOnVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  if (document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION).length !== 1) return true;
  const typeInfo = new TypeInfo(schema);
  let depends = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        if (node.value.kind === Kind.VARIABLE && typeInfo.getFieldDef()?.extensions?.complexity !== undefined) depends = true;
      },
    }),
  );
  return depends;
}
