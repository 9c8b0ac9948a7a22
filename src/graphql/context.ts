import type { Logger } from 'pino';

/** Built per HTTP request by the server; resolvers read nothing else from the transport. */
export interface GraphQLContext {
  requestId: string;
  logger: Logger;
  /** Raw `Authorization` header, checked only by operations that need a session. */
  authorization?: string;
  /** Set by the auth checker once an access token has been verified. */
  viewer?: { userId: string };
}
