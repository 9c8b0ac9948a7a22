import { maskPhone } from '../phones/mask';
import type { SinchOperation } from './outcomes';

/** Facts about one failed Sinch exchange. Travels as an AppError's `cause`, so it gets logged. */
export interface SinchCallDetail {
  operation: SinchOperation;
  /** Our own summary when there was no usable Sinch answer (timeout, connection, bad body). */
  problem?: string;
  httpStatus?: number;
  errorCode?: number;
  sinchMessage?: string;
  sinchReference?: string;
  status?: string;
  reason?: string;
}

/** The `cause` of every AppError the gateway throws; never shown to a client. */
export class SinchCallError extends Error {
  readonly detail: SinchCallDetail;

  constructor(detail: SinchCallDetail, options: { cause?: unknown } = {}) {
    super(describe(detail), options);
    this.name = 'SinchCallError';
    this.detail = detail;
  }
}

function describe(d: SinchCallDetail): string {
  const parts = [`Sinch ${d.operation}:`];
  if (d.problem) parts.push(d.problem);
  if (d.httpStatus !== undefined) parts.push(`HTTP ${d.httpStatus}`);
  if (d.errorCode !== undefined) parts.push(`errorCode ${d.errorCode}`);
  if (d.sinchMessage) parts.push(JSON.stringify(d.sinchMessage));
  if (d.status) parts.push(`status ${d.status}${d.reason ? ` (${d.reason})` : ''}`);
  if (d.sinchReference) parts.push(`reference ${d.sinchReference}`);
  return parts.join(' ');
}

/**
 * Sinch messages may quote the number ("Number +4813 is invalid"); the cause is logged, so any
 * `+digits` or run of 6+ digits is masked before it is kept.
 */
export function maskNumbersIn(text: string): string {
  return text.replace(/\+\d[\d ]*\d|\d{6,}/g, (match) => maskPhone(`+${match.replace(/[+ ]/g, '')}`));
}

/**
 * `Retry-After` as delay-seconds or an HTTP date; whole seconds, at least 1 so a client never
 * gets told to retry "now" while we know Sinch is refusing.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  const seconds = /^\d+$/.test(trimmed) ? Number(trimmed) : (Date.parse(trimmed) - now.getTime()) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.max(1, Math.ceil(seconds));
}
