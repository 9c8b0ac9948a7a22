import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { type DocumentNode, GraphQLError, type GraphQLSchema, Kind, TypeInfo, type ValueNode, visit, visitWithTypeInfo } from 'graphql';
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
  /** Per document: its cost, when its variables cannot change it; else PER_REQUEST. */
  fixed: WeakMap<DocumentNode, number | typeof PER_REQUEST>;
}

const ESTIMATORS = [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];
const PER_REQUEST = 'per request';

class CostCheck implements GraphQLRequestListener<GraphQLContext> {
  constructor(private readonly limit: CostLimit) {}

  async didResolveOperation({
    request,
    document,
    operationName,
  }: Parameters<NonNullable<GraphQLRequestListener<GraphQLContext>['didResolveOperation']>>[0]): Promise<void> {
    const { schema, maxCost, fixed } = this.limit;
    const known = fixed.get(document);
    const cost = typeof known === 'number' ? known : costWith(schema, document, request.variables, operationName);
    // Variables that do not coerce: execution refuses them (BAD_USER_INPUT) before any resolver runs.
    if (cost === undefined) return;
    if (known === undefined) fixed.set(document, dependsOnVariables(schema, document) ? PER_REQUEST : cost);
    if (cost > maxCost) {
      throw new GraphQLError(`The operation's cost (${cost}) is over the limit of ${maxCost}: ask for fewer fields or smaller pages.`, {
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
      });
    }
  }
}

/** The operation's cost with these variables; undefined when they do not coerce. */
function costWith(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null) {
  try {
    return getComplexity({ schema, query: document, variables: variables ?? {}, operationName: operationName ?? undefined, estimators: ESTIMATORS });
  } catch {
    return undefined;
  }
}

/**
 * Whether the cost can change with the variables: several operations (the one run is named per
 * request), a variable in a directive's arguments (`@skip(if: $x)`, `@include(if: $x)` leave whole
 * selections out or in), or a variable in an argument of a field that prices its arguments
 * (`pageCost`).
 */
function dependsOnVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  if (document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION).length !== 1) return true;
  const typeInfo = new TypeInfo(schema);
  let depends = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Directive(node) {
        if (node.arguments?.some((argument) => usesVariable(argument.value))) depends = true;
      },
      Argument(node) {
        if (usesVariable(node.value) && typeInfo.getFieldDef()?.extensions?.complexity !== undefined) depends = true;
      },
    }),
  );
  return depends;
}

/** A variable anywhere in an argument's value, lists and input objects included. */
function usesVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(usesVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((field) => usesVariable(field.value));
  return false;
}
