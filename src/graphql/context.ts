import type { Logger } from 'pino';
import type { ClientInfo } from '../http/client-info';
import type { Viewer } from '../sessions/session.service';

/** Built per HTTP request by the server; resolvers read nothing else from the transport. */
export interface GraphQLContext {
  requestId: string;
  logger: Logger;
  /** The client's address: the socket's, or X-Forwarded-For's when the peer is a trusted proxy. */
  ip: string;
  /** The address and User-Agent, as recorded on sessions. */
  client: ClientInfo;
  /** Raw `Authorization` header, checked only by operations that need a session. */
  authorization?: string;
  /** Set by the auth checker once an access token has been verified and its session found live. */
  viewer?: Viewer;
}
