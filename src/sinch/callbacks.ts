import { createHash } from 'node:crypto';
import type { Logger } from '../logging/logger';
import type { ProviderEvents, ProviderMethod } from '../otp/otp-provider';
import { type AuthVerification, type HeaderBag, verifyRequestAuthorization } from './signing';

/**
 * Sinch's callbacks to us (facts doc section 7), verified and turned into `ProviderEvents` calls.
 * Transport-agnostic: the HTTP server hands over the raw request and writes back the reply.
 */

export interface CallbackRequest {
  method: string;
  /** The path as received, without the query string: what Sinch signed. */
  path: string;
  headers: HeaderBag;
  /** The exact bytes received: the signature covers them, not a re-serialized parse. */
  rawBody: Buffer;
}

/** `body` undefined: an empty 200, which is what Sinch asks for on every event but the request. */
export interface CallbackReply {
  status: number;
  body?: object;
}

export interface SinchCallbackOptions {
  applicationKey: string;
  applicationSecret: string;
  events: ProviderEvents;
  logger: Logger;
  clock?: () => Date;
  /** Default 300. Sinch states no limit; five minutes is the usual replay window for signed requests. */
  maxTimestampSkewSeconds?: number;
  /** Remembers callbacks already processed, so a byte-identical replay inside the window changes nothing. */
  replays?: CallbackReplays;
  /** Told each reference whose start our answer denied (the gateway then knows why Sinch denied it). */
  onDenied?: (reference: string) => void;
}

export interface CallbackReplays {
  /** True the first time `digest` is seen; it is remembered until `until`. */
  firstTime(digest: string, until: Date): Promise<boolean>;
}

export type SinchCallbackHandler = (request: CallbackRequest) => Promise<CallbackReply>;

/**
 * Only Sinch's signed scheme passes: Basic is not how Sinch signs callbacks, and accepting it would
 * let anyone holding the secret skip the timestamp (no replay window).
 */
export function verifyCallback(request: CallbackRequest, options: SinchCallbackOptions): AuthVerification {
  return verifyRequestAuthorization({
    method: request.method,
    path: request.path,
    headers: request.headers,
    rawBody: request.rawBody,
    applicationKey: options.applicationKey,
    applicationSecret: options.applicationSecret,
    allowBasic: false,
    maxTimestampSkewSeconds: options.maxTimestampSkewSeconds ?? 300,
    now: options.clock ?? (() => new Date()),
  });
}

export function createSinchCallbackHandler(options: SinchCallbackOptions): SinchCallbackHandler {
  const logger = options.logger.child({ component: 'sinch-callbacks' });
  const { events } = options;

  return async function handleSinchCallback(request) {
    if (request.method.toUpperCase() !== 'POST') return { status: 405 };
    const auth = verifyCallback(request, options);
    if (!auth.valid) {
      // Nothing from the request itself: it is not Sinch's, so none of it is trusted or kept.
      logger.warn({ errorCode: auth.errorCode }, `refused a Sinch callback: ${auth.message}`);
      return { status: 401 };
    }
    const event = parseEvent(request.rawBody);
    if (typeof event === 'string') {
      logger.warn({ problem: event }, 'a signed Sinch callback could not be used');
      return { status: 400 };
    }
    const context = { event: event.event, verificationId: event.id, method: event.method };
    // A request event only asks a question (answered again, the same way); the others change state once.
    if (event.event !== 'VerificationRequestEvent' && options.replays) {
      const skew = options.maxTimestampSkewSeconds ?? 300;
      const until = new Date((options.clock ?? (() => new Date()))().getTime() + 2 * skew * 1000);
      if (!(await options.replays.firstTime(digestOf(request), until))) {
        logger.info(context, 'a Sinch callback already processed was received again: ignored');
        return { status: 200 };
      }
    }
    try {
      const reply = await dispatch(event, events, options.onDenied);
      logger.debug({ ...context, ...reply.body }, 'Sinch callback handled');
      return reply;
    } catch (error) {
      // Sinch retries a failed callback; a request event it cannot get an answer to ends denied.
      logger.error({ ...context, err: error }, 'handling a Sinch callback failed');
      return { status: 500 };
    }
  };
}

/** The signature and the exact bytes: two deliveries with one digest are one callback. */
function digestOf(request: CallbackRequest): string {
  const header = (name: string) => String(request.headers[name] ?? '');
  return createHash('sha256')
    .update(`${header('authorization')}\n${header('x-timestamp')}\n`)
    .update(request.rawBody)
    .digest('base64url');
}

interface SinchEvent {
  event: 'VerificationRequestEvent' | 'VerificationSmsDeliveredEvent' | 'VerificationResultEvent';
  id: string;
  method?: string;
  reference?: string;
  endpoint?: string;
  status?: string;
  smsResult?: string;
}

/** Longer than any id, reference or number Sinch sends. */
const MAX_FIELD_LENGTH = 256;

const EVENTS = new Set(['VerificationRequestEvent', 'VerificationSmsDeliveredEvent', 'VerificationResultEvent']);

/** The event, or what is wrong with the body (never echoing any of it). */
function parseEvent(rawBody: Buffer): SinchEvent | string {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'body is not a JSON object';
  const body = json as Record<string, unknown>;
  if (typeof body.event !== 'string' || !EVENTS.has(body.event)) return 'unknown event';
  if (typeof body.id !== 'string' || body.id === '') return 'event without id';
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const identity = body.identity !== null && typeof body.identity === 'object' ? (body.identity as Record<string, unknown>) : {};
  // Ids, references and numbers become query parameters: control characters (PostgreSQL refuses
  // NUL in text), lone surrogates and oversized values are no event of Sinch's.
  for (const value of [body.id, body.reference, identity.endpoint, body.method, body.status, body.smsResult]) {
    if (typeof value === 'string' && (value.length > MAX_FIELD_LENGTH || /[\p{Cc}\p{Cs}]/u.test(value)))
      return 'a field holds characters Sinch never sends';
  }
  return {
    event: body.event as SinchEvent['event'],
    id: body.id,
    method: text(body.method),
    reference: text(body.reference),
    endpoint: text(identity.endpoint),
    status: text(body.status),
    smsResult: text(body.smsResult),
  };
}

async function dispatch(event: SinchEvent, events: ProviderEvents, onDenied?: (reference: string) => void): Promise<CallbackReply> {
  const failed = () => events.deliveryFailed({ reference: event.reference, verificationId: event.id });
  switch (event.event) {
    case 'VerificationRequestEvent': {
      // Only what we start ourselves: our methods, our reference. Anything else is refused unasked.
      const { reference, endpoint: phoneNumber } = event;
      const method = event.method === 'sms' || event.method === 'callout' ? (event.method as ProviderMethod) : undefined;
      const allowed = method && reference && phoneNumber ? await events.mayStart({ reference, phoneNumber, method }) : false;
      if (!allowed && reference) onDenied?.(reference);
      return { status: 200, body: { action: allowed ? 'allow' : 'deny' } };
    }
    case 'VerificationSmsDeliveredEvent':
      if (event.smsResult === 'Failed') await failed();
      return { status: 200 };
    case 'VerificationResultEvent':
      // Other results (SUCCESSFUL, FAIL, ABORTED) are already decided by our own report.
      if (event.status === 'ERROR' || event.status === 'DENIED') await failed();
      return { status: 200 };
  }
}
