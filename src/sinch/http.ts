import { basicAuthorization, signedAuthorization } from './signing';

export interface SinchHttpOptions {
  baseUrl: string;
  applicationKey: string;
  applicationSecret: string;
  auth: 'signed' | 'basic';
  timeoutMs: number;
  clock: () => Date;
}

export interface SinchReply {
  httpStatus: number;
  headers: Headers;
  text: string;
}

/**
 * No usable answer at all. `kind`: no answer in time; `refused`: no connection was made (refused,
 * or the host name did not resolve), so nothing reached Sinch; `network`: the connection failed
 * some other way, possibly after the request went out.
 */
export class SinchTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'refused' | 'network',
    options: { cause: unknown },
  ) {
    super(TRANSPORT_MESSAGES[kind], options);
    this.name = 'SinchTransportError';
  }
}

const TRANSPORT_MESSAGES = {
  timeout: 'Sinch did not answer in time',
  refused: 'Sinch could not be connected to',
  network: 'Sinch could not be reached',
} as const;

/** Failures before a connection exists: not a byte of the request was sent. */
const NO_CONNECTION = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The header the SDK sends on every request, GETs included; signed exactly as sent. */
const CONTENT_TYPE = 'application/json';

/**
 * One signed HTTP exchange with Sinch, through Node's fetch. Never retries: a retried start sends
 * a second SMS and a retried report burns one of the user's attempts; the caller decides what a
 * failure means.
 *
 * Not ky (the stack's HTTP client until issue 11): of what ky adds to fetch, this exchange used
 * nothing (no retries, its own timer because ky's stops at the headers, every status mapped here
 * rather than thrown), and ky builds a Request, clones it for the retries it will not make and
 * combines two abort signals on every call: about 0.8 ms more per Sinch call, one login at a time
 * on this machine (requestOtp and verifyOtp each make one), measured side by side.
 */
export class SinchHttp {
  private readonly origin: string;

  constructor(private readonly options: SinchHttpOptions) {
    this.origin = options.baseUrl.replace(/\/+$/, '');
  }

  /** `headers`: extra request headers, outside the signature (Sinch signs only the ones it names). */
  async send(method: 'GET' | 'POST' | 'PUT', path: string, body?: object, headers: Record<string, string> = {}): Promise<SinchReply> {
    // Serialized once here so the MD5 covers the exact bytes that go on the wire.
    const text = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(this.origin + path);
    const timestamp = this.options.clock().toISOString();
    const authorization =
      this.options.auth === 'basic'
        ? basicAuthorization(this.options.applicationKey, this.options.applicationSecret)
        : signedAuthorization({
            method,
            // The path as it will be sent (URL parsing keeps a literal `+`), base path included.
            path: url.pathname,
            contentType: CONTENT_TYPE,
            timestamp,
            body: text,
            applicationKey: this.options.applicationKey,
            applicationSecret: this.options.applicationSecret,
          });

    try {
      const response = await fetch(url, {
        method,
        body: text,
        headers: { ...headers, 'content-type': CONTENT_TYPE, accept: 'application/json', 'x-timestamp': timestamp, authorization },
        // One timer for the whole exchange, body included.
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      return { httpStatus: response.status, headers: response.headers, text: await response.text() };
    } catch (error) {
      // The timer's abort is a DOMException named TimeoutError, at the headers or in the body.
      if (isTimeout(error)) throw new SinchTransportError('timeout', { cause: undefined });
      throw new SinchTransportError(neverConnected(error) ? 'refused' : 'network', { cause: error });
    }
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

/**
 * fetch's `TypeError: fetch failed` carries the socket's error as its cause; with several addresses
 * tried (IPv4 and IPv6), an AggregateError of one per address. Never connected only when each is.
 */
function neverConnected(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause;
  const failures = cause instanceof AggregateError ? cause.errors : [cause];
  return failures.length > 0 && failures.every((failure) => NO_CONNECTION.has((failure as { code?: unknown } | undefined)?.code as string));
}
