import { describe, expect, it } from 'vitest';
import {
  type Decision,
  decide,
  decideUnansweredReport,
  decideUnansweredStart,
  isOutage,
  type SinchAnswer,
  type SinchOperation,
} from '../../src/sinch/outcomes';

const http = (httpStatus: number, errorCode?: number): SinchAnswer => ({ kind: 'http', httpStatus, errorCode });
const verification = (status: string, reason?: string): SinchAnswer => ({ kind: 'verification', status, reason });

/** [operation, answer, expected code or outcome, expected log level] */
type Row = [SinchOperation, SinchAnswer, string, ('error' | 'warn' | undefined)?];

const rows: Row[] = [
  // Transport and malformed answers
  ['start', { kind: 'timeout' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  ['report', { kind: 'network' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  // Never connected: nothing reached Sinch, an ordinary failure (the gateway asks nothing more)
  ['start', { kind: 'refused' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  ['report', { kind: 'refused' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  ['start', { kind: 'malformed' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  // Not sent: the breaker already logged when it opened
  ['report', { kind: 'circuit_open' }, 'PROVIDER_UNAVAILABLE'],
  // HTTP errors
  ['start', http(500, 50000), 'PROVIDER_UNAVAILABLE', 'warn'],
  ['report', http(502), 'PROVIDER_UNAVAILABLE', 'warn'],
  ['start', http(503, 50300), 'PROVIDER_UNAVAILABLE', 'warn'],
  ['start', http(503, 50301), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(401, 40100), 'PROVIDER_UNAVAILABLE', 'error'],
  ['report', http(401, 40102), 'PROVIDER_UNAVAILABLE', 'error'],
  ['status', http(401, 40107), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(402, 40200), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(403, 40303), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(429, 42900), 'RATE_LIMITED'],
  ['start', http(429, 42901), 'RATE_LIMITED'],
  ['start', http(400, 40001), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', http(403, 40300), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', http(422, 42201), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', http(422, 42200), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(400, 40002), 'INTERNAL_SERVER_ERROR', 'error'],
  ['start', http(409, 40900), 'INTERNAL_SERVER_ERROR', 'error'],
  ['start', http(404, 40400), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', http(418), 'PROVIDER_UNAVAILABLE', 'error'],
  ['report', http(404, 40400), 'expired'],
  ['report', http(400, 40001), 'wrong_code', 'warn'],
  ['report', http(400, 40003), 'wrong_code', 'warn'],
  ['status', http(404, 40400), 'OTP_EXPIRED'],
  // 200 answers to a start
  ['start', verification('PENDING'), 'ok'],
  ['start', verification('DENIED', 'Fraud'), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', verification('DENIED', 'Blocked'), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', verification('DENIED', 'Destination denied'), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['start', verification('DENIED', 'Not enough credit'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', verification('DENIED', 'Denied by callback'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', verification('DENIED', 'Invalid callback'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', verification('DENIED', 'Something new'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', verification('DENIED', 'toString'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['start', verification('ERROR', 'Network error or number unreachable'), 'OTP_DELIVERY_FAILED', 'warn'],
  ['start', verification('SUCCESSFUL'), 'PROVIDER_UNAVAILABLE', 'warn'],
  // 200 answers to a report
  ['report', verification('SUCCESSFUL'), 'verified'],
  ['report', verification('FAIL', 'Expired'), 'expired'],
  ['report', verification('FAIL', 'Invalid code'), 'wrong_code'],
  ['report', verification('FAIL'), 'wrong_code'],
  ['report', verification('ABORTED'), 'expired'],
  ['report', verification('PENDING'), 'wrong_code'],
  ['report', verification('DENIED', 'Fraud'), 'PHONE_NUMBER_NOT_ALLOWED'],
  ['report', verification('DENIED', 'Not enough credit'), 'PROVIDER_UNAVAILABLE', 'error'],
  ['report', verification('ERROR', 'SMS delivery failure'), 'OTP_DELIVERY_FAILED', 'warn'],
  ['report', verification('WHATEVER'), 'PROVIDER_UNAVAILABLE', 'warn'],
  // A status lookup returns whatever Sinch says
  ['status', verification('FAIL', 'Expired'), 'ok'],
  ['status', verification('DENIED', 'Fraud'), 'ok'],
];

const result = (decision: Decision) => (decision.kind === 'fail' ? decision.code : decision.kind === 'outcome' ? decision.outcome.kind : 'ok');

describe('decide (the Sinch → contract mapping table)', () => {
  it.each(rows)('%s + %j → %s', (operation, answer, expected, level) => {
    const decision = decide(operation, answer);
    expect(result(decision)).toBe(expected);
    expect(decision.kind === 'ok' ? undefined : decision.log?.level).toBe(level);
  });

  it('names the credentials to check, with the Sinch code, in the operator line', () => {
    const decision = decide('start', http(401, 40102));
    expect(decision.kind === 'fail' && decision.log?.message).toContain(
      'Sinch rejected our application credentials (40102) — check SINCH_APPLICATION_KEY/SECRET',
    );
  });

  it('gives a rate limit a default retry delay', () => {
    expect(decide('report', http(429, 42900))).toMatchObject({ code: 'RATE_LIMITED', defaultRetryAfterSeconds: 30 });
  });
});

describe('decideUnansweredReport (a report timed out or dropped: the status decides)', () => {
  it.each<[SinchAnswer, string, 'warn' | 'error']>([
    [verification('SUCCESSFUL'), 'verified', 'warn'],
    [verification('FAIL', 'Expired'), 'expired', 'warn'],
    [verification('FAIL', 'Invalid code'), 'wrong_code', 'warn'],
    [verification('ABORTED'), 'expired', 'warn'],
    // Never judged: the attempt must not count.
    [verification('PENDING'), 'PROVIDER_UNAVAILABLE', 'warn'],
    [verification('ERROR', 'SMS delivery failure'), 'OTP_DELIVERY_FAILED', 'warn'],
    [verification('DENIED', 'Not enough credit'), 'PROVIDER_UNAVAILABLE', 'error'],
    [http(404, 40400), 'expired', 'warn'],
    [http(503, 50300), 'PROVIDER_UNAVAILABLE', 'warn'],
    [{ kind: 'timeout' }, 'PROVIDER_UNAVAILABLE', 'warn'],
    [{ kind: 'network' }, 'PROVIDER_UNAVAILABLE', 'warn'],
    [{ kind: 'refused' }, 'PROVIDER_UNAVAILABLE', 'warn'],
    [{ kind: 'malformed' }, 'PROVIDER_UNAVAILABLE', 'warn'],
    [{ kind: 'circuit_open' }, 'PROVIDER_UNAVAILABLE', 'warn'],
  ])('status %j → %s, always with a log line', (status, expected, level) => {
    const decision = decideUnansweredReport('timeout', status);
    expect(result(decision)).toBe(expected);
    expect(decision.log?.level).toBe(level);
    expect(decision.log?.message).toMatch(/^Sinch did not answer a report in time; asked for its status: /);
  });

  it('says what the status was', () => {
    expect(decideUnansweredReport('network', verification('FAIL', 'Expired')).log?.message).toBe(
      'The connection to Sinch failed during a report; asked for its status: status FAIL (Expired)',
    );
  });
});

describe('decideUnansweredStart (a start timed out, dropped or came back unreadable: its status by reference decides)', () => {
  it.each<[SinchAnswer, string, 'warn' | 'error']>([
    // Found: the start happened, its verification is the live one.
    [verification('PENDING'), 'ok', 'warn'],
    [verification('SUCCESSFUL'), 'ok', 'warn'],
    [verification('FAIL', 'Expired'), 'ok', 'warn'],
    [verification('ABORTED'), 'ok', 'warn'],
    // Found, but Sinch already refused it: mapped as a start answer would be.
    [verification('DENIED', 'Fraud'), 'PHONE_NUMBER_NOT_ALLOWED', 'warn'],
    [verification('DENIED', 'Blocked'), 'PHONE_NUMBER_NOT_ALLOWED', 'warn'],
    [verification('DENIED', 'Not enough credit'), 'PROVIDER_UNAVAILABLE', 'error'],
    [verification('DENIED', 'Denied by callback'), 'PROVIDER_UNAVAILABLE', 'error'],
    [verification('ERROR', 'SMS delivery failure'), 'OTP_DELIVERY_FAILED', 'warn'],
    // Not found: it did not start, an ordinary failure (the send is given back).
    [http(404, 40400), 'PROVIDER_UNAVAILABLE', 'warn'],
    [http(404), 'PROVIDER_UNAVAILABLE', 'warn'],
    // Sinch could not be asked: the code may have gone out.
    [{ kind: 'timeout' }, 'unknown', 'warn'],
    [{ kind: 'network' }, 'unknown', 'warn'],
    [{ kind: 'refused' }, 'unknown', 'warn'],
    [{ kind: 'malformed' }, 'unknown', 'warn'],
    [{ kind: 'circuit_open' }, 'unknown', 'warn'],
    [http(500, 50000), 'unknown', 'warn'],
    [http(503, 50300), 'unknown', 'warn'],
    [http(429, 42900), 'unknown', 'warn'],
    [http(401, 40102), 'unknown', 'warn'],
    [http(400, 40003), 'unknown', 'warn'],
  ])('status %j → %s, always with one log line', (status, expected, level) => {
    const decision = decideUnansweredStart('timeout', status);
    expect(decision.kind === 'fail' ? decision.code : decision.kind).toBe(expected);
    expect(decision.log.level).toBe(level);
    expect(decision.log.message).toMatch(/^Sinch did not answer a start in time; /);
  });

  it('says how the answer was lost and what the lookup found', () => {
    expect(decideUnansweredStart('timeout', verification('PENDING')).log.message).toBe('Sinch did not answer a start in time; found it by reference');
    expect(decideUnansweredStart('network', verification('ABORTED')).log.message).toBe(
      'The connection to Sinch failed during a start; found it by reference (status ABORTED)',
    );
    expect(decideUnansweredStart('malformed', http(404, 40400)).log.message).toBe(
      'Sinch answered a start with an unexpected body; not found by reference, so it did not start',
    );
    expect(decideUnansweredStart('timeout', verification('DENIED', 'Not enough credit')).log.message).toBe(
      'Sinch did not answer a start in time; found it by reference: status DENIED (Not enough credit) — ' +
        'Sinch denied a verification: account out of credit — top up the Sinch account',
    );
    expect(decideUnansweredStart('timeout', http(503, 50300)).log.message).toBe(
      'Sinch did not answer a start in time; could not look it up by reference (HTTP 503 / 50300): the code may have been sent',
    );
    expect(decideUnansweredStart('network', { kind: 'circuit_open' }).log.message).toBe(
      'The connection to Sinch failed during a start; could not look it up by reference (not asked, the circuit breaker is open): the code may have been sent',
    );
  });
});

describe('isOutage (what the circuit breaker counts)', () => {
  it.each<[SinchAnswer, boolean]>([
    [{ kind: 'timeout' }, true],
    [{ kind: 'network' }, true],
    [{ kind: 'refused' }, true],
    [{ kind: 'malformed' }, true],
    [http(500, 50000), true],
    [http(503, 50301), true],
    [http(400, 40001), false],
    [http(401, 40102), false],
    [http(404, 40400), false],
    [http(429, 42900), false],
    [verification('FAIL', 'Invalid code'), false],
    [verification('DENIED', 'Fraud'), false],
    [{ kind: 'circuit_open' }, false],
  ])('%j → %s', (answer, expected) => {
    expect(isOutage(answer)).toBe(expected);
  });
});
