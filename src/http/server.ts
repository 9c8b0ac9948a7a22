import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Logger } from 'pino';
import { runInRequestScope } from '../context/request-scope';
import { accessLog } from '../logging/logger';
import proxyAddr from 'proxy-addr';
import type { GraphQLContext } from '../graphql/context';
import { firstCharacters, headerText } from '../validation/text';
import { USER_AGENT_LENGTH } from './client-info';
import type { CorsPolicy } from './cors';
import type { OfflineIde } from './ide';
import { readOnly, sendJson } from './answers';
import { canonicalAddress } from '../rate-limits/ip-bucket';

export interface HttpDependencies {
  apollo: ApolloServer<GraphQLContext>;
  logger: Logger;
  maxBodyBytes: number;
  isDatabaseReady: () => Promise<boolean>;
  /** True once shutdown has begun (src/http/drain.ts): /readyz then answers 503 `draining`. */
  isDraining: () => boolean;
  jwks: () => object;
  /** Compiled TRUST_PROXY list: X-Forwarded-For is read only when the peer is one of these. */
  trustProxy: (address: string, hop: number) => boolean;
  /** Sinch's callbacks: verified and answered by the Sinch module, on the raw body. */
  callbacks: { path: string; handle: (request: RawRequest) => Promise<{ status: number; body?: object }> };
  /** Which browser origins may call /graphql. */
  cors: CorsPolicy;
  /** Development only: the offline GraphQL IDE under /graphql/ide/. */
  ide?: OfflineIde;
  /** `GET /metrics` when served on this port; absent: 404 like any unknown path. */
  metrics?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Lets a request use the database: its own unit of work (an EntityManager forked on first use). */
  withRequestScope: <T>(work: () => Promise<T>) => Promise<T>;
}

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * A server that listens before the service is assembled (the emulator must know where to send
 * its callbacks), answering 503 until `serveHttp` gives it its routes.
 */
/** How long a connection may take or stall; whatever passes them is closed and its descriptor freed. */
export interface HttpTimeouts {
  /** The request's headers must have arrived by then (slow loris). */
  headersMs: number;
  /** The whole request (headers and body). */
  requestMs: number;
  /** A connection with nothing happening on it (a client that stopped reading, an idle keep-alive). */
  idleMs: number;
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', message: 'The request headers are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', message: 'The request took too long to arrive.' },
};
const MALFORMED = { status: 400, reason: 'Bad Request', message: 'Malformed HTTP request.' };

export function createHttpServer(timeouts: HttpTimeouts): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      // Node checks the two above on this beat (30 s by default, which let stalled sockets pile up).
      connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
    },
    (_req, res) => sendJson(res, 503, { status: 'starting' }),
  );
  // A socket on which nothing moves (never sends, never reads, half-closed) is destroyed.
  server.setTimeout(timeouts.idleMs, (socket) => socket.destroy());
  // Requests Node's parser refuses (oversized headers, malformed HTTP, too slow) still get a JSON answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const { status, reason, message } = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
    const body = JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Node's http with the service's routes; Apollo 5 has no plain-http integration of its own. */
export function serveHttp(server: Server, deps: HttpDependencies): void {
  server.removeAllListeners('request');
  const requests = accessLog(deps.logger);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    runInRequestScope(requestId, () => serve(deps, requests, req, res, requestId));
  });
}

function serve(deps: HttpDependencies, requests: Logger, req: IncomingMessage, res: ServerResponse, requestId: string): void {
  const { logger } = deps;
  const started = performance.now();
  res.setHeader('x-request-id', requestId);
  res.on('finish', () => {
    const ms = Math.round(performance.now() - started);
    requests.info({ method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms }, 'request');
  });
  route(deps, req, res, requestId).catch((error: unknown) => {
    // A client that hangs up mid-request is not our error.
    if (req.destroyed || (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
      logger.debug({ err: error }, 'client went away');
      return;
    }
    logger.error({ err: error }, 'unhandled error while serving a request');
    if (!res.headersSent)
      sendJson(res, 500, { errors: [{ message: 'Something went wrong on our side.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    else res.destroy();
  });
}

async function route(deps: HttpDependencies, req: IncomingMessage, res: ServerResponse, requestId: string) {
  const url = requestTarget(req.url ?? '/');
  if (!url) return sendRequestError(res, 400, 'The request target is not a path.');
  if (deps.ide && req.method === 'GET' && (await deps.ide.serve(url.pathname, res))) return;
  switch (url.pathname) {
    case '/healthz':
      if (!readOnly(req, res)) return;
      return sendJson(res, 200, { status: 'ok' });
    case '/readyz': {
      if (!readOnly(req, res)) return;
      if (deps.isDraining()) return sendJson(res, 503, { status: 'draining' });
      const ready = await deps.isDatabaseReady();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'database unavailable' });
    }
    case '/.well-known/jwks.json':
      if (!readOnly(req, res)) return;
      // Verifiers may cache the keys this long: a new key is added here at least this long before it signs.
      res.setHeader('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
      // Public keys: any page may read them.
      res.setHeader('access-control-allow-origin', '*');
      return sendJson(res, 200, deps.jwks());
    case '/graphql':
      if (deps.cors.handle(req, res) === 'preflight answered') return;
      return serveGraphQL(deps, req, res, url, requestId);
    case deps.callbacks.path:
      return serveCallback(deps, req, res, url);
    case '/metrics':
      return deps.metrics ? deps.metrics(req, res) : sendJson(res, 404, { error: 'not found' });
    default:
      return sendJson(res, 404, { error: 'not found' });
  }
}

async function serveGraphQL(deps: HttpDependencies, req: IncomingMessage, res: ServerResponse, url: RequestTarget, requestId: string) {
  // A compressed body would be read as text and refused as "not JSON", or run if it happened to be
  // plain: neither says what is wrong.
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return sendRequestError(res, 415, 'Content-Encoding is not supported: send the body uncompressed.');
  const body = await readBody(req, deps.maxBodyBytes);
  if (body === 'too large') return sendRequestError(res, 413, `The request body is larger than ${deps.maxBodyBytes} bytes.`);

  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  let parsedBody: unknown = body.toString('utf8');
  if (/^application\/(graphql-response\+)?json\b/i.test(headers.get('content-type') ?? '') && body.length > 0) {
    try {
      parsedBody = JSON.parse(parsedBody as string);
    } catch {
      return sendRequestError(res, 400, 'The request body is not valid JSON.');
    }
  }

  const response = await deps.withRequestScope(() =>
    deps.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: parsedBody },
      context: async () => {
        const ip = canonicalAddress(proxyAddr(req, deps.trustProxy));
        return {
          requestId,
          logger: deps.logger,
          ip,
          client: { ip, userAgent: userAgentOf(req) },
          authorization: req.headers.authorization,
        };
      },
    }),
  );
  res.statusCode = response.status ?? 200;
  // Answers carry tokens and account data: no cache keeps them (RFC 6749 §5.1 asks as much of
  // token responses). Set here once, rather than by Apollo's cache-control plugin, which hooked
  // every field resolved to reach the same header.
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (response.body.kind === 'complete') return void res.end(response.body.string);
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

async function serveCallback(deps: HttpDependencies, req: IncomingMessage, res: ServerResponse, url: RequestTarget) {
  const body = await readBody(req, deps.maxBodyBytes);
  if (body === 'too large') return sendJson(res, 413, { error: 'request body too large' });
  const request = { method: req.method ?? 'GET', path: url.pathname, headers: req.headers, rawBody: body };
  const answer = await deps.withRequestScope(() => deps.callbacks.handle(request));
  if (answer.body === undefined) {
    res.statusCode = answer.status;
    return void res.end();
  }
  sendJson(res, answer.status, answer.body);
}

function userAgentOf(req: IncomingMessage): string | undefined {
  const text = headerText(req.headers['user-agent']);
  return text === undefined ? undefined : firstCharacters(text, USER_AGENT_LENGTH);
}

interface RequestTarget {
  pathname: string;
  /** `?…`, or empty. */
  search: string;
}

/**
 * The path and query of a request target, taken as sent. `new URL(target, base)` reads `//x` as a
 * host and throws on `//a:b@` or `//[::1`: a request target is split, never resolved. Absolute
 * targets (`http://host/path`, which proxies send) are parsed; anything else is no path at all.
 */
export function requestTarget(raw: string): RequestTarget | undefined {
  if (raw.startsWith('/')) {
    const query = raw.indexOf('?');
    return query === -1 ? { pathname: raw, search: '' } : { pathname: raw.slice(0, query), search: raw.slice(query) };
  }
  if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw)) return undefined;
  const { pathname, search } = new URL(raw);
  return { pathname, search };
}

/** Stops reading at the limit instead of buffering whatever a client sends. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return resolve('too large');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        return resolve('too large');
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendRequestError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
}
