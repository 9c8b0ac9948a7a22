import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from '../config/config';

/** What a browser on an allowed origin may send: Apollo Client's and Sandbox's headers, and ours. */
const ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'apollographql-client-name',
  'apollographql-client-version',
  'x-request-id',
].join(', ');
/** Browsers cache a preflight answer this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** An origin as a browser writes it: no leading zeros, a port a socket can have (1–65535). */
const LOCALHOST = /^http:\/\/(?:localhost|127\.0\.0\.1)(?::([1-9]\d{0,4}))?$/;

function isLocalhost(origin: string): boolean {
  const match = LOCALHOST.exec(origin);
  return match !== null && (match[1] === undefined || Number(match[1]) <= 65_535);
}

/**
 * CORS for /graphql. Tokens travel in the Authorization header and the body, never in cookies, so
 * credentials are never allowed; an origin not on the list simply gets no Access-Control headers
 * and the browser keeps the answer from the page.
 */
export class CorsPolicy {
  private readonly origins: Set<string>;

  constructor(private readonly config: CorsConfig) {
    this.origins = new Set(config.origins);
  }

  allows(origin: string): boolean {
    return this.config.anyOrigin || this.origins.has(origin) || (this.config.anyLocalhostPort && isLocalhost(origin));
  }

  /** Adds the response headers for an actual request; answers whether it was a preflight, now answered. */
  handle(req: IncomingMessage, res: ServerResponse): 'preflight answered' | undefined {
    const origin = req.headers.origin;
    // The answer depends on Origin: caches must not serve one origin's answer to another.
    res.setHeader('vary', 'Origin');
    const allowed = typeof origin === 'string' && this.allows(origin);
    if (allowed) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'x-request-id');
    }
    if (req.method !== 'OPTIONS') return undefined;
    if (allowed) {
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
      res.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    res.statusCode = 204;
    res.end();
    return 'preflight answered';
  }
}
