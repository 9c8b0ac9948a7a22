import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import { maskPhone } from '../phones/mask';
import { maskNumbersIn, parseRetryAfter, SinchCallError, type SinchCallDetail } from './errors';
import { SinchHttp, SinchTransportError, type SinchReply } from './http';
import { decide, type Decision, type ReportOutcome, type SinchAnswer, type SinchOperation } from './outcomes';

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
}

export interface StartInput {
  /** E.164 */
  phoneNumber: string;
  method: SinchMethod;
  /** Unique per start (Sinch answers 409 to a reused one). */
  reference: string;
  codeTtlSeconds: number;
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

  constructor(options: SinchGatewayOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger.child({ component: 'sinch-gateway' });
    this.http = new SinchHttp({ ...options, clock: this.clock });
  }

  async start(input: StartInput): Promise<{ id: string }> {
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
    const exchange = await this.exchange('start', 'POST', VERIFICATIONS, body);
    const id = exchange.json?.id;
    if (exchange.answer.kind === 'verification' && (typeof id !== 'string' || id === '')) {
      exchange.answer = { kind: 'malformed' };
    }
    this.settle(exchange, context);
    this.logger.info({ ...context, verificationId: id }, 'Sinch verification started');
    return { id: id as string };
  }

  async report(input: ReportInput): Promise<ReportOutcome> {
    const body = { method: input.method, [input.method]: { code: input.code } };
    const exchange = await this.exchange('report', 'PUT', `${VERIFICATIONS}/id/${encodeURIComponent(input.id)}`, body);
    const decision = this.settle(exchange, { verificationId: input.id, method: input.method });
    if (decision.kind !== 'outcome') throw new Error('unreachable: a report either decides an outcome or fails');
    return decision.outcome;
  }

  async status(id: string): Promise<{ status: string; reason?: string }> {
    const exchange = await this.exchange('status', 'GET', `${VERIFICATIONS}/id/${encodeURIComponent(id)}`);
    this.settle(exchange, { verificationId: id });
    const { answer } = exchange;
    if (answer.kind !== 'verification') throw new Error('unreachable: only a verification answer settles as ok');
    return answer.reason === undefined ? { status: answer.status } : { status: answer.status, reason: answer.reason };
  }

  /** Sends, then reduces the reply to a `SinchAnswer`; never throws for what Sinch answered. */
  private async exchange(operation: SinchOperation, method: 'GET' | 'POST' | 'PUT', path: string, body?: object): Promise<Exchange> {
    const startedAt = Date.now();
    let reply: SinchReply;
    try {
      reply = await this.http.send(method, path, body);
    } catch (error) {
      if (!(error instanceof SinchTransportError)) throw error;
      return { operation, answer: { kind: error.kind }, transportError: error };
    }
    this.logger.debug({ operation, httpStatus: reply.httpStatus, durationMs: Date.now() - startedAt }, 'Sinch answered');
    const json = parseObject(reply.text);
    const base = { operation, json, headers: reply.headers };
    if (reply.httpStatus < 200 || reply.httpStatus > 299) {
      const errorCode = Number(json?.errorCode);
      const known = json?.errorCode !== undefined && Number.isInteger(errorCode);
      return { ...base, answer: { kind: 'http', httpStatus: reply.httpStatus, errorCode: known ? errorCode : undefined } };
    }
    // A start answer carries no status while the verification is simply pending.
    const status = json?.status ?? (operation === 'start' && json ? 'PENDING' : undefined);
    if (typeof status !== 'string') return { ...base, answer: { kind: 'malformed' } };
    const reason = typeof json?.reason === 'string' ? json.reason : undefined;
    return { ...base, answer: { kind: 'verification', status, reason } };
  }

  /** Applies the mapping table: returns an ok/outcome decision, or logs and throws the AppError. */
  private settle(exchange: Exchange, context: Record<string, unknown>): Decision {
    const decision = decide(exchange.operation, exchange.answer);
    const detail = detailOf(exchange);
    if (decision.log) this.logger[decision.log.level]({ ...context, sinch: detail }, decision.log.message);
    if (decision.kind !== 'fail') return decision;
    const retryAfterSeconds = parseRetryAfter(exchange.headers?.get('retry-after'), this.clock()) ?? decision.defaultRetryAfterSeconds;
    throw new AppError(decision.code, {
      extensions: retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
      cause: new SinchCallError(detail, { cause: exchange.transportError }),
    });
  }
}

interface Exchange {
  operation: SinchOperation;
  answer: SinchAnswer;
  json?: Record<string, unknown>;
  headers?: Headers;
  transportError?: SinchTransportError;
}

function detailOf({ operation, answer, json }: Exchange): SinchCallDetail {
  switch (answer.kind) {
    case 'timeout':
      return { operation, problem: 'timed out' };
    case 'network':
      return { operation, problem: 'connection failed' };
    case 'malformed':
      return { operation, problem: 'unexpected response body' };
    case 'verification':
      return { operation, status: answer.status, reason: answer.reason };
    case 'http':
      return {
        operation,
        httpStatus: answer.httpStatus,
        errorCode: answer.errorCode,
        sinchMessage: typeof json?.message === 'string' ? maskNumbersIn(json.message) : undefined,
        sinchReference: typeof json?.reference === 'string' ? json.reference : undefined,
      };
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Sinch's `smsOptions.expiry` is a duration written `HH:MM:SS`. */
export function formatExpiry(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds >= 100 * 3600) {
    throw new RangeError(`codeTtlSeconds must be a whole number of seconds below 100 hours, got ${seconds}`);
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}
