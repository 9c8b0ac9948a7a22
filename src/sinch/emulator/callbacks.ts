import type { Logger } from '../../logging/logger';
import { signedAuthorization } from '../signing';
import { PRICE } from './responses';
import type { EmulatedVerification } from './store';

/**
 * Sinch's callbacks to the app's backend (facts doc section 7), signed as Sinch signs them: the
 * scheme word in lower case, `application/json; charset=utf-8`, an x-timestamp with 7
 * fractional digits, and the callback URL's path as the signed PATH.
 */

export type CallbackEventName = 'VerificationRequestEvent' | 'VerificationSmsDeliveredEvent' | 'VerificationResultEvent';

export interface CallbackDelivery {
  event: CallbackEventName;
  verificationId: string;
  /** Exactly the bytes sent (what the signature covers). */
  rawBody: string;
  headers: Record<string, string>;
  /** The reply's HTTP status; absent when none came (refused, timed out). */
  status?: number;
  reply?: string;
  /** Why no reply came. */
  error?: string;
}

/** `invalid`: no reply, a non-2xx, or a body without `action` allow/deny. */
export type Approval = 'allow' | 'deny' | 'invalid';

export interface CallbackSenderOptions {
  url: string;
  applicationKey: string;
  applicationSecret: string;
  clock: () => Date;
  logger: Logger;
  timeoutMs: number;
  /** Default KEEP_ANSWERED. */
  keepAnswered?: number;
}

const CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Deliveries kept for tests to inspect: the newest this many, plus any older one still waiting
 * for its answer (a test may be about to read it). Bounded because the emulator runs as long as
 * `npm start` does; unanswered ones are bounded by the callback timeout.
 */
const KEEP_ANSWERED = 2000;

export class CallbackSender {
  /** Oldest first; trimmed in place, so a reference to it stays current. */
  readonly deliveries: CallbackDelivery[] = [];
  private readonly keepAnswered: number;
  private readonly path: string;
  private readonly pending = new Set<Promise<unknown>>();
  /** Later events go one after another, so a backend sees them in the order they happened. */
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * One per callback in flight, aborted by `close`. Not AbortSignal.any with a long-lived signal:
   * on Node 20 that retains every signal combined with it (about 60 bytes per callback, forever).
   */
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly options: CallbackSenderOptions) {
    this.path = new URL(options.url).pathname;
    this.keepAnswered = options.keepAnswered ?? KEEP_ANSWERED;
  }

  /** VerificationRequestEvent: the start is answered only once the backend has. */
  async requestApproval(verification: Readonly<EmulatedVerification>): Promise<Approval> {
    const delivery = await this.track(this.post('VerificationRequestEvent', verification, requestEvent(verification)));
    if (delivery.status === undefined || delivery.status < 200 || delivery.status > 299) return 'invalid';
    try {
      const action = (JSON.parse(delivery.reply ?? '') as { action?: unknown } | null)?.action;
      return action === 'allow' || action === 'deny' ? action : 'invalid';
    } catch {
      return 'invalid';
    }
  }

  /** Sent in the background; `body` is taken now, so later changes to the verification do not leak in. */
  notify(event: Exclude<CallbackEventName, 'VerificationRequestEvent'>, verification: Readonly<EmulatedVerification>, body: object): void {
    const next = this.tail.then(() => this.post(event, verification, body));
    this.tail = next;
    void this.track(next);
  }

  /** Resolves once every callback sent so far, and any it led to, has its answer. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  close(): void {
    this.closed = true;
    for (const controller of this.inFlight) controller.abort();
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** Never throws: a callback that fails is recorded as such. */
  private async post(event: CallbackEventName, verification: Readonly<EmulatedVerification>, body: object): Promise<CallbackDelivery> {
    const rawBody = JSON.stringify(body);
    const timestamp = this.options.clock().toISOString().replace('Z', '0000Z');
    const signed = signedAuthorization({ method: 'POST', path: this.path, contentType: CONTENT_TYPE, timestamp, body: rawBody, ...this.keys() });
    const headers = { 'content-type': CONTENT_TYPE, 'x-timestamp': timestamp, authorization: signed.replace(/^Application /, 'application ') };
    const delivery: CallbackDelivery = { event, verificationId: verification.id, rawBody, headers };
    this.deliveries.push(delivery);
    this.trim();
    const controller = new AbortController();
    this.inFlight.add(controller);
    if (this.closed) controller.abort();
    const timer = setTimeout(() => controller.abort(new DOMException('Callback timed out', 'TimeoutError')), this.options.timeoutMs).unref();
    try {
      const response = await fetch(this.options.url, { method: 'POST', headers, body: rawBody, signal: controller.signal });
      delivery.status = response.status;
      delivery.reply = await response.text();
    } catch (error) {
      delivery.error = error instanceof Error ? error.name : 'unknown';
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    const ok = delivery.status !== undefined && delivery.status >= 200 && delivery.status <= 299;
    const line = { event, verificationId: verification.id, httpStatus: delivery.status, error: delivery.error };
    if (ok) this.options.logger.debug(line, 'Sinch emulator: callback answered');
    else this.options.logger.warn(line, `Sinch emulator: callback ${event} got no usable answer`);
    return delivery;
  }

  /** On each push: only those older than the newest `keepAnswered` may go, answered ones only. */
  private trim(): void {
    const { deliveries } = this;
    let at = 0;
    while (deliveries.length > this.keepAnswered && at < deliveries.length - this.keepAnswered) {
      if (answered(deliveries[at])) deliveries.splice(at, 1);
      else at += 1;
    }
  }

  private keys() {
    return { applicationKey: this.options.applicationKey, applicationSecret: this.options.applicationSecret };
  }
}

const answered = (d: CallbackDelivery) => d.status !== undefined || d.error !== undefined;

const identity = (v: Readonly<EmulatedVerification>) => ({ type: 'number', endpoint: v.endpoint });
const optional = (v: Readonly<EmulatedVerification>) => ({
  ...(v.reference === undefined ? {} : { reference: v.reference }),
  ...(v.custom === undefined ? {} : { custom: v.custom }),
});

export function requestEvent(v: Readonly<EmulatedVerification>): object {
  const price = { currencyId: 'EUR', amount: PRICE[v.method] };
  return { id: v.id, event: 'VerificationRequestEvent', method: v.method, identity: identity(v), ...optional(v), price };
}

export function smsDeliveredEvent(v: Readonly<EmulatedVerification>, smsResult: 'Successful' | 'Failed'): object {
  return { id: v.id, event: 'VerificationSmsDeliveredEvent', method: 'sms', identity: identity(v), ...optional(v), smsResult };
}

export function resultEvent(v: Readonly<EmulatedVerification>): object {
  return {
    id: v.id,
    event: 'VerificationResultEvent',
    method: v.method,
    identity: identity(v),
    status: v.status,
    ...(v.reason === undefined ? {} : { reason: v.reason }),
    ...optional(v),
    ...(v.source === undefined ? {} : { source: v.source }),
  };
}
