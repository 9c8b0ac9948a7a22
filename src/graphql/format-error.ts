import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { ForeignKeyConstraintViolationException, NotFoundError } from '@mikro-orm/postgresql';
import { SQLSTATE, sqlStateOf } from '../db/prepared';
import { AppError, ERROR_MESSAGES, isAppError } from '../errors/app-error';

/**
 * Apollo's own request-level codes: the query could not be parsed or validated, or a variable
 * did not fit its type. Their messages describe the client's request, never our internals.
 */
export const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * The one place an error becomes what a client sees: AppErrors keep their code, message and
 * extensions; Apollo's request errors pass; everything else is masked as INTERNAL_SERVER_ERROR
 * (the logging plugin has recorded the cause). No stack trace ever leaves.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, options: { production: boolean }): GraphQLFormattedError {
  const original = contractErrorOf(unwrapResolverError(error));
  const base = { locations: formatted.locations, path: formatted.path };
  if (isAppError(original)) {
    return { ...base, message: original.message, extensions: { ...original.extensions, code: original.code } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code) && !isResolverFailure(error)) {
    // graphql-js suggests enum values and arguments ("Did you mean …?"): a map of the schema that
    // production keeps to itself, like introspection.
    const message = options.production ? formatted.message.replace(/\s*Did you mean [^?]*\?/g, '') : formatted.message;
    return { ...base, message, extensions: { code } };
  }
  return { path: formatted.path, message: ERROR_MESSAGES.INTERNAL_SERVER_ERROR, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/**
 * The contract's answer for an error: an AppError as it is, and a row that a request relied on but
 * another request deleted meanwhile (the account deleted while a code is verified, a pending
 * change replaced) as UNAUTHENTICATED: what it pointed at is gone, which for the client is an ended
 * session or a dead token, not a server error. Anything else is returned as it is.
 */
export function contractErrorOf(error: unknown): unknown {
  const foreignKey = error instanceof ForeignKeyConstraintViolationException || sqlStateOf(error) === SQLSTATE.foreignKeyViolation;
  if (foreignKey || error instanceof NotFoundError) {
    return new AppError('UNAUTHENTICATED', { cause: error });
  }
  return error;
}

/** An error raised inside a resolver is ours, whatever code a library put on it. */
function isResolverFailure(error: unknown): boolean {
  return unwrapResolverError(error) !== error || (error as { path?: unknown })?.path !== undefined;
}
