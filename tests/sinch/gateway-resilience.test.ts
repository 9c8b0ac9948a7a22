import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { SendOutcomeUnknown } from '../../src/otp/otp-provider';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { SinchGateway, type SinchGatewayOptions } from '../../src/sinch/gateway';
import { APP_KEY, APP_SECRET, appErrorOf, captureLogger, manualClock } from './support';

// The gateway when Sinch is slow or down, against the emulator's injected faults. The only real
// waits are the timeouts and the breaker's reset, which are what is under test.

const PHONE = '+447700900123';
let clock: ReturnType<typeof manualClock>;
let emulator: SinchEmulator;
let logs: ReturnType<typeof captureLogger>;
let baseUrl: string;
let references = 0;

function gateway(overrides: Partial<SinchGatewayOptions> = {}): SinchGateway {
  const options = { applicationKey: APP_KEY, applicationSecret: APP_SECRET, auth: 'signed' as const, timeoutMs: 150 };
  return new SinchGateway({ ...options, baseUrl, logger: logs.logger, clock: clock.now, ...overrides });
}

const start = (g: SinchGateway) => g.start({ phoneNumber: PHONE, method: 'sms', reference: `ref-${++references}`, codeTtlSeconds: 300 });
const code = () => emulator.lastCodeFor(PHONE)!;
const wrong = () => (code() === '000000' ? '111111' : '000000');

const warnings = () => logs.lines.filter((line) => line.level === 40).map((line) => String(line.msg));

beforeEach(async () => {
  clock = manualClock();
  logs = captureLogger();
  emulator = new SinchEmulator({ applicationKey: APP_KEY, applicationSecret: APP_SECRET, logger: captureLogger().logger, clock: clock.now });
  baseUrl = await emulator.start();
});
afterEach(() => emulator.stop());

describe('a report whose answer is lost asks for the status', () => {
  const slowReport = () => emulator.injectFault({ on: 'report', kind: 'hold' });

  it('the right code, answered too late → verified, with one warn line saying so', async () => {
    const g = gateway();
    const { id } = await start(g);
    slowReport();
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST', 'PUT', 'GET']);
    expect(warnings()).toEqual(['Sinch did not answer a report in time; asked for its status: status SUCCESSFUL']);
    expect(logs.text()).not.toContain(code());
  });

  it('a wrong code → wrong_code; after expiry → expired; replaced by a newer one (ABORTED) → expired', async () => {
    const g = gateway();
    const { id } = await start(g);
    slowReport();
    expect(await g.report({ id, method: 'sms', code: wrong() })).toEqual({ kind: 'wrong_code' });
    clock.advance(300);
    slowReport();
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'expired' });
    const first = await start(g);
    const firstCode = code();
    await start(g);
    slowReport();
    expect(await g.report({ id: first.id, method: 'sms', code: firstCode })).toEqual({ kind: 'expired' });
  });

  it('dropped after Sinch judged it → the status decides (verified)', async () => {
    const g = gateway();
    const { id } = await start(g);
    emulator.injectFault({ on: 'report', kind: 'drop' });
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
    expect(warnings()).toEqual(['The connection to Sinch failed during a report; asked for its status: status SUCCESSFUL']);
  });

  it('never judged (status still PENDING) → PROVIDER_UNAVAILABLE, and the code still works after', async () => {
    const g = gateway();
    const { id } = await start(g);
    emulator.injectFault({ on: 'report', kind: 'drop', afterHandling: false });
    const error = await appErrorOf(g.report({ id, method: 'sms', code: code() }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error.cause)).toContain('Sinch report: connection failed; status check answered status PENDING');
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
  });

  it('the status check failing too (slow, or 503) → PROVIDER_UNAVAILABLE', async () => {
    const g = gateway();
    const { id } = await start(g);
    emulator.injectFault({ on: 'any', kind: 'hold' }, { times: 2 });
    const slow = await appErrorOf(g.report({ id, method: 'sms', code: code() }));
    expect(slow.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(slow.cause)).toContain('timed out; status check timed out');
    slowReport();
    emulator.injectFault({ on: 'status', kind: 'http', status: 503, retryAfter: 9 });
    expect(await appErrorOf(g.report({ id, method: 'sms', code: code() }))).toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      extensions: { retryAfterSeconds: 9 },
    });
    expect(warnings().at(-1)).toBe('Sinch did not answer a report in time; asked for its status: an HTTP error');
  });
});

describe('a start whose answer is lost asks for its status by reference, and is never retried', () => {
  const slowStart = () => emulator.injectFault({ on: 'start', kind: 'hold' });
  const byReference = (reference: string) => `/verification/v1/verifications/reference/${reference}`;

  it('Sinch started it but answered too late → the id it created; its code verifies; one warn line', async () => {
    const g = gateway();
    slowStart();
    const { id } = await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'ref-late', codeTtlSeconds: 300 });
    expect(emulator.verifications().map((v) => v.id)).toEqual([id]);
    expect(emulator.requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/verification/v1/verifications'],
      ['GET', byReference('ref-late')],
    ]);
    expect(emulator.requests[1].auth.valid).toBe(true);
    expect(warnings()).toEqual(['Sinch did not answer a start in time; found it by reference']);
    expect(emulator.verification(id)?.secret).toBe(code());
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
    expect(logs.text()).not.toContain(code());
  });

  it('the connection dropped after Sinch started it → the same', async () => {
    const g = gateway();
    emulator.injectFault({ on: 'start', kind: 'drop', afterHandling: true });
    const { id } = await start(g);
    expect(emulator.verifications().map((v) => v.id)).toEqual([id]);
    expect(warnings()).toEqual(['The connection to Sinch failed during a start; found it by reference']);
    expect(await g.report({ id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
  });

  it('the lost start replaced an earlier one: the new id is returned, the earlier code no longer works', async () => {
    const g = gateway();
    const first = await start(g);
    const firstCode = code();
    slowStart();
    const second = await start(g);
    expect(second.id).not.toBe(first.id);
    expect(emulator.verification(first.id)?.status).toBe('ABORTED');
    expect(await g.report({ id: first.id, method: 'sms', code: firstCode })).toEqual({ kind: 'expired' });
    expect(await g.report({ id: second.id, method: 'sms', code: code() })).toEqual({ kind: 'verified' });
  });

  it('a reference that needs encoding is looked up encoded, and signed as sent', async () => {
    const g = gateway();
    slowStart();
    const { id } = await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'a/b c+ü', codeTtlSeconds: 300 });
    expect(emulator.verification(id)?.reference).toBe('a/b c+ü');
    expect(emulator.requests[1].path).toBe(byReference('a%2Fb%20c%2B%C3%BC'));
    expect(emulator.requests[1].auth.valid).toBe(true);
  });

  it('dropped before Sinch handled it → 404 by reference → a plain PROVIDER_UNAVAILABLE (the send is given back)', async () => {
    const g = gateway();
    emulator.injectFault({ on: 'start', kind: 'drop', afterHandling: false });
    const error = await appErrorOf(start(g));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(error.extensions).toEqual({});
    expect(String(error.cause)).toContain('Sinch start: connection failed; lookup by reference answered HTTP 404 errorCode 40400');
    expect(emulator.verifications()).toEqual([]);
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(warnings()).toEqual(['The connection to Sinch failed during a start; not found by reference, so it did not start']);
  });

  it('a 2xx with an unreadable body is looked up too (here nothing had started: PROVIDER_UNAVAILABLE)', async () => {
    const g = gateway();
    emulator.injectFault({ on: 'start', kind: 'malformed' });
    const error = await appErrorOf(start(g));
    expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(error).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('the lookup failing too (slow, dropped, 503) → SendOutcomeUnknown, with Retry-After when Sinch gave one', async () => {
    const g = gateway({ breaker: { failureThreshold: 100 } });
    slowStart();
    emulator.injectFault({ on: 'status', kind: 'hold' });
    const slow = await appErrorOf(start(g));
    expect(slow).toBeInstanceOf(SendOutcomeUnknown);
    expect(slow).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', extensions: {} });
    expect(String(slow.cause)).toContain('Sinch start: timed out; lookup by reference timed out');
    expect(warnings()).toEqual([
      'Sinch did not answer a start in time; could not look it up by reference (no answer in time either): the code may have been sent',
    ]);

    emulator.injectFault({ on: 'start', kind: 'drop' });
    emulator.injectFault({ on: 'status', kind: 'drop' });
    expect(await appErrorOf(start(g))).toBeInstanceOf(SendOutcomeUnknown);

    slowStart();
    emulator.injectFault({ on: 'status', kind: 'http', status: 503, retryAfter: 9 });
    const refused = await appErrorOf(start(g));
    expect(refused).toBeInstanceOf(SendOutcomeUnknown);
    expect(refused.extensions).toEqual({ retryAfterSeconds: 9 });
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST', 'GET', 'POST', 'GET']);
  });

  it('the breaker opening on the lost start → not asked → SendOutcomeUnknown with the seconds until its trial', async () => {
    const g = gateway({ breaker: { failureThreshold: 1 } });
    slowStart();
    const error = await appErrorOf(start(g));
    expect(error).toBeInstanceOf(SendOutcomeUnknown);
    expect(error.extensions).toEqual({ retryAfterSeconds: 30 });
    expect(String(error.cause)).toContain('timed out; lookup by reference not sent: circuit breaker open');
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('a start Sinch answered (even with an HTTP error) is not looked up', async () => {
    const g = gateway();
    emulator.injectFault({ on: 'start', kind: 'http', status: 503 });
    const error = await appErrorOf(start(g));
    expect(error).toBeInstanceOf(AppError);
    expect(error).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(emulator.requests.map((r) => r.method)).toEqual(['POST']);
  });
});

describe('circuit breaker', () => {
  it('opens after 5 consecutive outages, then fails fast without calling Sinch, with the seconds until its trial', async () => {
    const g = gateway();
    emulator.injectFault({ on: 'any', kind: 'http', status: 503 }, { times: 100 });
    for (let i = 0; i < 5; i++) expect((await appErrorOf(start(g))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(g.circuit).toBe('open');
    const refused = await appErrorOf(g.report({ id: 'v-1', method: 'sms', code: '123456' }));
    expect(refused).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', extensions: { retryAfterSeconds: 30 } });
    expect(String(refused.cause)).toContain('not sent: circuit breaker open');
    expect(emulator.requests).toHaveLength(5);
    expect(warnings().filter((m) => m.includes('circuit'))).toEqual([
      'Sinch circuit breaker opened (5 consecutive failures): Sinch calls fail fast for 30 s, then one trial call',
    ]);
  });

  it('timeouts and dropped connections count as outages', async () => {
    // A lost start is followed by a lookup: both lost here, so one start counts twice.
    let g = gateway({ breaker: { failureThreshold: 2 } });
    emulator.injectFault({ on: 'any', kind: 'hold' }, { times: 2 });
    await appErrorOf(start(g));
    expect(g.circuit).toBe('open');
    g = gateway({ breaker: { failureThreshold: 2 } });
    emulator.injectFault({ on: 'any', kind: 'drop', afterHandling: false }, { times: 2 });
    await appErrorOf(start(g));
    expect(g.circuit).toBe('open');
  });

  it('a lost start counts as one outage, the lookup that answers as a success', async () => {
    const g = gateway({ breaker: { failureThreshold: 2 } });
    emulator.injectFault({ on: 'start', kind: 'hold' }, { times: 3 });
    await start(g);
    await start(g);
    await start(g);
    expect(g.circuit).toBe('closed');
    emulator.injectFault({ on: 'start', kind: 'drop', afterHandling: false }, { times: 3 });
    for (let i = 0; i < 3; i++) expect((await appErrorOf(start(g))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(g.circuit).toBe('closed');
  });

  it('answers are not outages: wrong codes, 4xx and unknown ids never open it; a success resets the count', async () => {
    const g = gateway({ breaker: { failureThreshold: 3 } });
    const { id } = await start(g);
    for (let i = 0; i < 5; i++) expect(await g.report({ id, method: 'sms', code: wrong() })).toEqual({ kind: 'wrong_code' });
    for (let i = 0; i < 5; i++) expect(await g.report({ id: 'unknown', method: 'sms', code: '1' })).toEqual({ kind: 'expired' });
    for (const status of [400, 401, 403, 409, 422, 429]) {
      emulator.injectFault({ on: 'start', kind: 'http', status });
      await appErrorOf(start(g));
    }
    emulator.injectFault({ on: 'status', kind: 'http', status: 500 }, { times: 2 });
    await appErrorOf(g.status(id));
    await appErrorOf(g.status(id));
    expect(await g.status(id)).toEqual({ status: 'FAIL', reason: 'Invalid code' });
    emulator.injectFault({ on: 'status', kind: 'http', status: 500 }, { times: 2 });
    await appErrorOf(g.status(id));
    await appErrorOf(g.status(id));
    expect(g.circuit).toBe('closed');
  });

  it('after resetTimeout one trial call goes through: success closes it (info line), failure re-opens it', async () => {
    const g = gateway({ breaker: { failureThreshold: 2, resetTimeoutMs: 200 } });
    emulator.injectFault({ on: 'any', kind: 'http', status: 503 }, { times: 3 });
    await appErrorOf(start(g));
    await appErrorOf(start(g));
    expect((await appErrorOf(start(g))).extensions).toEqual({ retryAfterSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(g.circuit).toBe('half-open');
    // The trial meets the third 503: open again at once, without counting to 2.
    await appErrorOf(start(g));
    expect(g.circuit).toBe('open');
    expect(warnings().filter((m) => m.includes('circuit'))).toEqual([
      'Sinch circuit breaker opened (2 consecutive failures): Sinch calls fail fast for 1 s, then one trial call',
      'Sinch circuit breaker opened (the trial call failed too): Sinch calls fail fast for 1 s, then one trial call',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await start(g);
    expect(g.circuit).toBe('closed');
    expect(logs.lines.filter((line) => line.level === 30).map((line) => line.msg)).toContain(
      'Sinch circuit breaker closed: Sinch answered the trial call',
    );
    expect(emulator.requests).toHaveLength(4);
  });
});
