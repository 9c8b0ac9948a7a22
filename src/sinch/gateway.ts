import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import { type Metrics, NO_METRICS } from '../metrics/metrics';
import { SendOutcomeUnknown } from '../otp/otp-provider';
import { maskPhone } from '../phones/mask';
import { type BreakerOptions, DEFAULT_BREAKER, SinchBreaker } from './breaker';
import { parseRetryAfter, SinchCallError, type SinchCallDetail } from './errors';
import { detailOf, type Exchange, type HttpMethod, performExchange } from './exchange';
import { SinchHttp } from './http';
import {
  type Decision,
  DENIED_ON_OUR_ANSWER,
  decide,
  decideUnansweredReport,
  decideUnansweredStart,
  isOutage,
  type LostStartAnswer,
  outcomeLabel,
  type ReportOutcome,
  type SinchOperation,
  type StartLookupDecision,
} from './outcomes';

export type { ReportOutcome } from './outcomes';

/** Our channels as Sinch names them: SMS is `sms`, a voice call reading the code is `callout`. */
export type SinchMethod = 'sms' | 'callout';

export interface SinchGatewayOptions {
  baseUrl: string;
  applicationKey: string;
  applicationSecret: string;
  auth: 'signed' | 'basic';
  timeoutMs: number;
  logger: Logger;
  clock?: () => Date;
  /** Default: open after 5 consecutive outages, one trial call after 30 s. */
  breaker?: Partial<BreakerOptions>;
  metrics?: Metrics;
}

export interface StartInput {
  /** E.164 */
  phoneNumber: string;
  method: SinchMethod;
  /** Unique per start (Sinch answers 409 to a reused one). */
  reference: string;
  codeTtlSeconds: number;
  /** BCP 47 language for the SMS text, sent as `Accept-Language`. */
  locale?: string;
}

export interface ReportInput {
  id: string;
  method: SinchMethod;
  code: string;
}

const VERIFICATIONS = '/verification/v1/verifications';

/**
 * The only code that knows Sinch Verification's wire format. Every failure leaves as an AppError
 * with a contract code; Sinch's detail rides along as the `cause`.
 */
export class SinchGateway {
  private readonly http: SinchHttp;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly breaker: SinchBreaker;
  private readonly metrics: Metrics;
  private readonly deniedReferences = new LRUCache<string, true>({ max: 1_000, ttl: 60_000 });

  constructor(options: SinchGatewayOptions) {
    this.metrics = options.metrics ?? NO_METRICS;
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger.child({ component: 'sinch-gateway' });
    this.http = new SinchHttp({ ...options, clock: this.clock });
    this.breaker = new SinchBreaker({ ...DEFAULT_BREAKER, ...options.breaker }, this.logger);
  }

  /** For health reporting and tests. */
  get circuit(): 'closed' | 'open' | 'half-open' {
    return this.breaker.state;
  }

  /**
   * Never retried (a second start sends a second code). When the answer is lost, Sinch is asked
   * by reference whether the start happened; see `decideUnansweredStart`. Throws
   * `SendOutcomeUnknown` when even that cannot be told.
   */
  async start(input: StartInput): Promise<{ id: string; locale: string | null }> {
    const body = {
      identity: { type: 'number', endpoint: input.phoneNumber },
      method: input.method,
      reference: input.reference,
      // A callout has no expiry option at Sinch; our service enforces the code's lifetime itself.
      ...(input.method === 'sms'
        ? { smsOptions: { expiry: formatExpiry(input.codeTtlSeconds), codeType: 'Numeric' } }
        : { calloutOptions: { speech: { locale: 'en-US' } } }),
    };
    const context = { phone: maskPhone(input.phoneNumber), method: input.method };
    const headers = input.locale ? { 'accept-language': input.locale } : undefined;
    const exchange = requireId(await this.call('start', 'POST', VERIFICATIONS, body, headers));
    const { kind } = exchange.answer;
    // A 2xx we cannot read is treated like a lost answer: Sinch answers 2xx only to a start it took.
    if (kind === 'timeout' || kind === 'network' || kind === 'malformed') return this.startFromReference(kind, exchange, input.reference, context);
    const decision = this.deniedOnOurAnswer(exchange, input.reference) ? DENIED_ON_OUR_ANSWER : decide('start', exchange.answer);
    this.apply(decision, detailOf(exchange), exchange, context);
    const id = exchange.json?.id as string;
    this.logger.info({ ...context, verificationId: id }, 'Sinch verification started');
    // The language Sinch used for the SMS, when it says.
    return { id, locale: exchange.headers?.get('content-language')?.trim() || null };
  }

  /**
   * Never retried (a second report could burn an attempt). When the answer is lost, the status
   * says whether Sinch judged the code; see `decideUnansweredReport`.
   */
  async report(input: ReportInput): Promise<ReportOutcome> {
    const body = { method: input.method, [input.method]: { code: input.code } };
    const path = `${VERIFICATIONS}/id/${encodeURIComponent(input.id)}`;
    const context = { verificationId: input.id, method: input.method };
    const exchange = await this.call('report', 'PUT', path, body);
    const { kind } = exchange.answer;
    const decision = kind === 'timeout' || kind === 'network' ? await this.reportFromStatus(kind, path, context) : this.settle(exchange, context);
    if (decision.kind !== 'outcome') throw new Error('unreachable: a report either decides an outcome or fails');
    return decision.outcome;
  }

  async status(id: string): Promise<{ status: string; reason?: string }> {
    const exchange = await this.call('status', 'GET', `${VERIFICATIONS}/id/${encodeURIComponent(id)}`);
    this.settle(exchange, { verificationId: id });
    const { answer } = exchange;
    if (answer.kind !== 'verification') throw new Error('unreachable: only a verification answer settles as ok');
    return answer.reason === undefined ? { status: answer.status } : { status: answer.status, reason: answer.reason };
  }

  private async reportFromStatus(lost: 'timeout' | 'network', path: string, context: Record<string, unknown>): Promise<Decision> {
    const status = await this.call('status', 'GET', path);
    const statusDetail = detailOf(status);
    const problem = `${lost === 'timeout' ? 'timed out' : 'connection failed'}; status check ${statusDetail.problem ?? 'answered'}`;
    const detail: SinchCallDetail = { ...statusDetail, operation: 'report', problem };
    return this.apply(decideUnansweredReport(lost, status.answer), detail, status, context);
  }

  private async startFromReference(
    lost: LostStartAnswer,
    start: Exchange,
    reference: string,
    context: Record<string, unknown>,
  ): Promise<{ id: string; locale: string | null }> {
    const lookup = requireId(await this.call('status', 'GET', `${VERIFICATIONS}/reference/${encodeURIComponent(reference)}`));
    const lookupDetail = detailOf(lookup);
    const problem = `${detailOf(start).problem}; lookup by reference ${lookupDetail.problem ?? 'answered'}`;
    const detail: SinchCallDetail = { ...lookupDetail, operation: 'start', problem };
    // Throws unless the verification was found (and not already refused by Sinch).
    this.apply(decideUnansweredStart(lost, lookup.answer), detail, lookup, context, start.transportError);
    const id = lookup.json?.id as string;
    this.logger.info({ ...context, verificationId: id }, 'Sinch verification started');
    // The start's own answer was lost, and with it the language Sinch reported.
    return { id, locale: null };
  }

  /** Through the breaker: while it is open nothing is sent and the answer is `circuit_open`. */
  private call(operation: SinchOperation, method: HttpMethod, path: string, body?: object, headers?: Record<string, string>): Promise<Exchange> {
    return this.breaker.run(
      async () => {
        const startedAt = performance.now();
        const result = await performExchange(this.http, operation, method, path, body, headers);
        const durationMs = performance.now() - startedAt;
        this.logger.debug({ operation, answer: result.answer.kind, durationMs: Math.round(durationMs) }, 'Sinch exchange done');
        this.metrics.sinchCall(operation, outcomeLabel(result.answer), durationMs / 1000);
        return result;
      },
      (result) => isOutage(result.answer),
      (retryAfterSeconds) => {
        this.metrics.sinchRefused(operation);
        return { operation, answer: { kind: 'circuit_open' }, retryAfterSeconds };
      },
    );
  }

  /**
   * What our callback handler denied (`noteDenied`), for a minute: Sinch's answer to such a start
   * is `DENIED` / `Denied by callback`, which otherwise means a callback setting to fix. The
   * callback may reach another instance behind the same URL; that one's starts still log the
   * operator line.
   */
  noteDenied(reference: string): void {
    this.deniedReferences.set(reference, true);
  }

  private deniedOnOurAnswer({ answer }: Exchange, reference: string): boolean {
    return (
      answer.kind === 'verification' && answer.status === 'DENIED' && answer.reason === 'Denied by callback' && this.deniedReferences.has(reference)
    );
  }

  private settle(exchange: Exchange, context: Record<string, unknown>): Decision {
    return this.apply(decide(exchange.operation, exchange.answer), detailOf(exchange), exchange, context);
  }

  /**
   * Logs the decision's line, then returns an ok/outcome decision or throws: its AppError, or
   * `SendOutcomeUnknown` when a start's fate could not be told.
   */
  private apply<D extends Decision | StartLookupDecision>(
    decision: D,
    detail: SinchCallDetail,
    exchange: Exchange,
    context: Record<string, unknown>,
    earlierTransportError?: Error,
  ): Exclude<D, { kind: 'fail' | 'unknown' }> {
    if (decision.log) this.logger[decision.log.level]({ ...context, sinch: detail }, decision.log.message);
    if (decision.kind !== 'fail' && decision.kind !== 'unknown') return decision as Exclude<D, { kind: 'fail' | 'unknown' }>;
    const retryAfterSeconds =
      parseRetryAfter(exchange.headers?.get('retry-after'), this.clock()) ??
      exchange.retryAfterSeconds ??
      (decision.kind === 'fail' ? decision.defaultRetryAfterSeconds : undefined);
    const cause = new SinchCallError(detail, { cause: exchange.transportError ?? earlierTransportError });
    if (decision.kind === 'unknown') throw new SendOutcomeUnknown({ retryAfterSeconds, cause });
    throw new AppError(decision.code, { extensions: retryAfterSeconds === undefined ? {} : { retryAfterSeconds }, cause });
  }
}

/** A start or status answer must name the verification; one without an id is unusable. */
function requireId(exchange: Exchange): Exchange {
  const id = exchange.json?.id;
  if (exchange.answer.kind === 'verification' && (typeof id !== 'string' || id === '')) exchange.answer = { kind: 'malformed' };
  return exchange;
}

/** Sinch's `smsOptions.expiry` is a duration written `HH:MM:SS`. */
export function formatExpiry(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds >= 100 * 3600) {
    throw new RangeError(`codeTtlSeconds must be a whole number of seconds below 100 hours, got ${seconds}`);
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}
