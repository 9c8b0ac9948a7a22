import { maskNumbersIn, type SinchCallDetail } from './errors';
import { type SinchHttp, SinchTransportError } from './http';
import type { SinchAnswer, SinchOperation } from './outcomes';

/** One Sinch call reduced to the facts the mapping table needs, plus what the logs and cause need. */
export interface Exchange {
  operation: SinchOperation;
  answer: SinchAnswer;
  json?: Record<string, unknown>;
  headers?: Headers;
  transportError?: SinchTransportError;
  /** Set when the breaker refused the call: seconds until its trial call. */
  retryAfterSeconds?: number;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT';

/** Sends, then reduces the reply to a `SinchAnswer`; never throws for what Sinch answered. */
export async function performExchange(
  http: SinchHttp,
  operation: SinchOperation,
  method: HttpMethod,
  path: string,
  body?: object,
  headers?: Record<string, string>,
): Promise<Exchange> {
  let reply: Awaited<ReturnType<SinchHttp['send']>>;
  try {
    reply = await http.send(method, path, body, headers);
  } catch (error) {
    if (!(error instanceof SinchTransportError)) throw error;
    return { operation, answer: { kind: error.kind }, transportError: error };
  }
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

export function detailOf({ operation, answer, json }: Exchange): SinchCallDetail {
  switch (answer.kind) {
    case 'timeout':
      return { operation, problem: 'timed out' };
    case 'refused':
      return { operation, problem: 'not sent: could not connect' };
    case 'network':
      return { operation, problem: 'connection failed' };
    case 'malformed':
      return { operation, problem: 'unexpected response body' };
    case 'circuit_open':
      return { operation, problem: 'not sent: circuit breaker open' };
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
