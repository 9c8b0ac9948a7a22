import type { ErrorCode } from '../errors/app-error';
import type { ReportOutcome } from '../otp/otp-provider';

/**
 * The one place that decides what a Sinch answer means for us (contract: ../shared/CONTRACT.md,
 * "Errors"; Sinch statuses and codes: ../shared/sinch/verification-api.md sections 4 and 5).
 * Pure: the gateway turns a `Decision` into a return value, an AppError and log lines.
 */

export type SinchOperation = 'start' | 'report' | 'status';

export type { ReportOutcome };

/** What Sinch answered, reduced to the facts the mapping depends on. */
export type SinchAnswer =
  | { kind: 'timeout' }
  /** No connection was made: the request never reached Sinch. */
  | { kind: 'refused' }
  | { kind: 'network' }
  /** A 2xx whose body is not the JSON we expect. */
  | { kind: 'malformed' }
  /** A non-2xx; `errorCode` is absent when the body was not a Sinch error body. */
  | { kind: 'http'; httpStatus: number; errorCode?: number }
  /** A 2xx carrying a verification status (a start answer may carry none: then PENDING). */
  | { kind: 'verification'; status: string; reason?: string }
  /** Not sent: the circuit breaker is open after repeated outages. */
  | { kind: 'circuit_open' };

export interface LogNote {
  level: 'error' | 'warn';
  message: string;
}

export type Decision =
  | { kind: 'ok'; log?: LogNote }
  | { kind: 'outcome'; outcome: ReportOutcome; log?: LogNote }
  | { kind: 'fail'; code: ErrorCode; log?: LogNote; defaultRetryAfterSeconds?: number };

/** Sinch names no value; long enough not to hammer it, short enough for a user to wait. */
export const DEFAULT_RATE_LIMIT_RETRY_SECONDS = 30;

const ok: Decision = { kind: 'ok' };
const outcome = (kind: ReportOutcome['kind'], log?: LogNote): Decision => ({ kind: 'outcome', outcome: { kind }, log });
const fail = (code: ErrorCode, log?: LogNote): Decision => ({ kind: 'fail', code, log });
const operator = (message: string): LogNote => ({ level: 'error', message });
const notice = (message: string): LogNote => ({ level: 'warn', message });

export function decide(operation: SinchOperation, answer: SinchAnswer): Decision {
  switch (answer.kind) {
    case 'timeout':
      return fail('PROVIDER_UNAVAILABLE', notice(`Sinch did not answer the ${operation} request in time`));
    case 'refused':
      return fail('PROVIDER_UNAVAILABLE', notice(`Sinch could not be connected to for the ${operation} request: not sent`));
    case 'network':
      return fail('PROVIDER_UNAVAILABLE', notice(`Sinch could not be reached for the ${operation} request`));
    case 'malformed':
      return fail('PROVIDER_UNAVAILABLE', notice(`Sinch answered the ${operation} request with an unexpected body`));
    case 'http':
      return decideHttpError(operation, answer.httpStatus, answer.errorCode);
    case 'verification':
      return decideStatus(operation, answer.status, answer.reason);
    // The breaker logged once when it opened; a line per refused call would only be noise.
    case 'circuit_open':
      return fail('PROVIDER_UNAVAILABLE');
  }
}

/** A bounded word for the metrics: "ok" for any readable 2xx, else what went wrong (`http_429`...). */
export function outcomeLabel(answer: SinchAnswer): string {
  switch (answer.kind) {
    case 'verification':
      return 'ok';
    case 'http':
      return Number.isInteger(answer.httpStatus) && answer.httpStatus >= 100 && answer.httpStatus <= 599 ? `http_${answer.httpStatus}` : 'http_other';
    default:
      return answer.kind;
  }
}

/**
 * What the circuit breaker counts against Sinch: no usable answer at all. A 4xx, a wrong code or
 * a DENIED is Sinch answering, so it never opens the circuit (a user typing wrong codes, or one
 * blocked number, must not cut everyone off).
 */
export function isOutage(answer: SinchAnswer): boolean {
  switch (answer.kind) {
    case 'timeout':
    case 'refused':
    case 'network':
    case 'malformed':
      return true;
    case 'http':
      return answer.httpStatus >= 500;
    default:
      return false;
  }
}

/**
 * A report whose answer never came (timed out, or the connection failed after sending): Sinch may
 * or may not have judged the code, so its status decides. Always logs one line saying both.
 */
export function decideUnansweredReport(report: 'timeout' | 'network', status: SinchAnswer): Decision {
  const judged = judgedByStatus(status);
  const lost = report === 'timeout' ? 'Sinch did not answer a report in time' : 'The connection to Sinch failed during a report';
  const said = status.kind === 'verification' ? `status ${status.status}${status.reason ? ` (${status.reason})` : ''}` : UNUSABLE_STATUS[status.kind];
  const message = `${lost}; asked for its status: ${said}${judged.log ? ` — ${judged.log.message}` : ''}`;
  return { ...judged, log: { level: judged.log?.level ?? 'warn', message } };
}

const UNUSABLE_STATUS: Record<Exclude<SinchAnswer['kind'], 'verification'>, string> = {
  timeout: 'no answer in time either',
  refused: 'could not connect to Sinch either',
  network: 'could not reach Sinch either',
  malformed: 'an unexpected body',
  http: 'an HTTP error',
  circuit_open: 'not asked, the circuit breaker is open',
};

/** How a start's answer went missing: no answer in time, the connection failed, or a 2xx we cannot read. */
export type LostStartAnswer = 'timeout' | 'network' | 'malformed';

/**
 * What an unanswered start turned out to be. `unknown`: Sinch could not be asked, so the code may
 * have gone out (the gateway throws `SendOutcomeUnknown`, and the send is not given back).
 */
export type StartLookupDecision =
  | { kind: 'ok'; log: LogNote }
  | { kind: 'fail'; code: ErrorCode; log: LogNote; defaultRetryAfterSeconds?: number }
  | { kind: 'unknown'; log: LogNote };

const LOST_START: Record<LostStartAnswer, string> = {
  timeout: 'Sinch did not answer a start in time',
  network: 'The connection to Sinch failed during a start',
  malformed: 'Sinch answered a start with an unexpected body',
};

/**
 * A start whose answer never came (or came unreadable): Sinch may have created the verification
 * and sent the code, so its status by reference decides. Found → it started (its id is the one
 * to keep), unless Sinch already refused it (DENIED/ERROR, mapped as a start answer would be);
 * 404 → it did not start; anything else → unknown. Always logs one line saying which.
 */
export function decideUnansweredStart(start: LostStartAnswer, lookup: SinchAnswer): StartLookupDecision {
  const lost = LOST_START[start];
  if (lookup.kind === 'verification') {
    const found = `${lost}; found it by reference`;
    if (lookup.status === 'DENIED' || lookup.status === 'ERROR') {
      const mapped = decideStatus('start', lookup.status, lookup.reason);
      if (mapped.kind !== 'fail') throw new Error('unreachable: a DENIED or ERROR start always fails');
      const said = `status ${lookup.status}${lookup.reason ? ` (${lookup.reason})` : ''}`;
      const message = `${found}: ${said}${mapped.log ? ` — ${mapped.log.message}` : ''}`;
      return { ...mapped, log: { level: mapped.log?.level ?? 'warn', message } };
    }
    // Any other status (normally PENDING) means the start happened: its code is the live one.
    return { kind: 'ok', log: notice(lookup.status === 'PENDING' ? found : `${found} (status ${lookup.status})`) };
  }
  // Sinch answered that no verification has this reference: nothing was sent.
  if (lookup.kind === 'http' && lookup.httpStatus === 404) {
    return { kind: 'fail', code: 'PROVIDER_UNAVAILABLE', log: notice(`${lost}; not found by reference, so it did not start`) };
  }
  const said =
    lookup.kind === 'http'
      ? `HTTP ${lookup.httpStatus}${lookup.errorCode === undefined ? '' : ` / ${lookup.errorCode}`}`
      : UNUSABLE_STATUS[lookup.kind];
  return { kind: 'unknown', log: notice(`${lost}; could not look it up by reference (${said}): the code may have been sent`) };
}

function judgedByStatus(status: SinchAnswer): Decision {
  if (status.kind === 'verification') {
    // Unlike a report answer, PENDING here means the code was never judged (the report did not
    // arrive, or is still queued): the user's attempt must not count.
    if (status.status === 'PENDING') return fail('PROVIDER_UNAVAILABLE');
    return decideStatus('report', status.status, status.reason);
  }
  // As for a report: Sinch no longer knows the verification, so no code can complete it.
  if (status.kind === 'http' && status.httpStatus === 404) return outcome('expired');
  return fail('PROVIDER_UNAVAILABLE');
}

function decideHttpError(operation: SinchOperation, httpStatus: number, errorCode: number | undefined): Decision {
  const label = errorCode ?? httpStatus;
  if (httpStatus === 404) {
    // Sinch no longer knows the verification (never started, or forgotten after it ended).
    if (operation === 'report') return outcome('expired');
    if (operation === 'status') return fail('OTP_EXPIRED');
    return fail('PROVIDER_UNAVAILABLE', operator(`Sinch answered 404 to a start (${label}) — check SINCH_BASE_URL`));
  }
  if (httpStatus === 400) {
    // 40001/40003 on a report: the code itself is malformed or not acceptable, which is the
    // user's wrong code, not an outage. On a start, 40001 is how Sinch refuses a number.
    if (operation === 'report') return outcome('wrong_code', notice(`Sinch refused the reported code (${label})`));
    if (operation === 'start' && errorCode === 40001) return fail('PHONE_NUMBER_NOT_ALLOWED');
    return fail('INTERNAL_SERVER_ERROR', operator(`Sinch refused our ${operation} request as invalid (${label})`));
  }
  if (httpStatus === 401) {
    return fail(
      'PROVIDER_UNAVAILABLE',
      operator(`Sinch rejected our application credentials (${label}) — check SINCH_APPLICATION_KEY/SECRET and SINCH_AUTH`),
    );
  }
  if (httpStatus === 402) {
    return fail('PROVIDER_UNAVAILABLE', operator(`Sinch account is out of credit (${label}) — top up the Sinch account`));
  }
  if (httpStatus === 403) {
    if (errorCode === 40300) return fail('PHONE_NUMBER_NOT_ALLOWED');
    return fail(
      'PROVIDER_UNAVAILABLE',
      operator(`Sinch refused our ${operation} request (${label}) — check the Verification app's authorization settings`),
    );
  }
  if (httpStatus === 409) {
    return fail('INTERNAL_SERVER_ERROR', operator(`Sinch refused a reused verification reference (${label})`));
  }
  if (httpStatus === 422) {
    if (errorCode === 42201) return fail('PHONE_NUMBER_NOT_ALLOWED');
    return fail('PROVIDER_UNAVAILABLE', operator(`Sinch Verification app is not configured (${label}) — check the Sinch dashboard`));
  }
  if (httpStatus === 429) {
    return { kind: 'fail', code: 'RATE_LIMITED', defaultRetryAfterSeconds: DEFAULT_RATE_LIMIT_RETRY_SECONDS };
  }
  if (httpStatus === 503 && errorCode === 50301) {
    return fail('PROVIDER_UNAVAILABLE', operator(`Sinch reports a configuration error (${label}) — contact Sinch support`));
  }
  if (httpStatus >= 500) return fail('PROVIDER_UNAVAILABLE', notice(`Sinch failed the ${operation} request (${label})`));
  return fail('PROVIDER_UNAVAILABLE', operator(`Sinch answered the ${operation} request with an unexpected HTTP ${httpStatus} (${label})`));
}

/** DENIED reasons: the number's fault vs. ours (account, callback). */
const DENIED: Record<string, Decision> = {
  Fraud: fail('PHONE_NUMBER_NOT_ALLOWED'),
  Blocked: fail('PHONE_NUMBER_NOT_ALLOWED'),
  'Destination denied': fail('PHONE_NUMBER_NOT_ALLOWED'),
  'Not enough credit': fail('PROVIDER_UNAVAILABLE', operator('Sinch denied a verification: account out of credit — top up the Sinch account')),
  'Denied by callback': fail(
    'PROVIDER_UNAVAILABLE',
    operator('Sinch denied a verification on our callback’s answer — check the callback URL setting'),
  ),
  'Invalid callback': fail('PROVIDER_UNAVAILABLE', operator('Sinch denied a verification: invalid callback answer — check the callback URL setting')),
};

/**
 * A start Sinch denied on our own callback's deny (`Denied by callback`, the reference one this
 * process denied): its challenge ended while the start was on its way (the account deleted, the
 * token replaced). The callback setting is fine, so no operator line.
 */
export const DENIED_ON_OUR_ANSWER: Decision = fail(
  'PROVIDER_UNAVAILABLE',
  notice('Sinch denied a verification on our callback’s answer: its challenge had ended meanwhile'),
);

function denied(reason: string | undefined): Decision {
  return (
    (reason !== undefined && Object.hasOwn(DENIED, reason) ? DENIED[reason] : undefined) ??
    fail('PROVIDER_UNAVAILABLE', operator(`Sinch denied a verification (${reason ?? 'no reason given'})`))
  );
}

function decideStatus(operation: SinchOperation, status: string, reason: string | undefined): Decision {
  if (operation === 'status') return ok;
  if (status === 'DENIED') return denied(reason);
  if (status === 'ERROR') return fail('OTP_DELIVERY_FAILED', notice(`Sinch could not deliver (${reason ?? 'no reason given'})`));
  if (operation === 'start') {
    if (status === 'PENDING') return ok;
    return fail('PROVIDER_UNAVAILABLE', notice(`Sinch answered a start with status ${status}`));
  }
  switch (status) {
    case 'SUCCESSFUL':
      return outcome('verified');
    case 'FAIL':
      return outcome(reason === 'Expired' ? 'expired' : 'wrong_code');
    // A newer verification replaced this one: its code can never be accepted again.
    case 'ABORTED':
      return outcome('expired');
    // Still open after our report: Sinch did not accept the code.
    case 'PENDING':
      return outcome('wrong_code');
    default:
      return fail('PROVIDER_UNAVAILABLE', notice(`Sinch answered a report with unknown status ${status}`));
  }
}
