import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { signedAuthorization } from '../../src/sinch/signing';
import { APP_KEY, APP_SECRET, captureLogger, manualClock } from './support';

// Fault injection at the HTTP level: what a client sees, and what the emulator's state does.

const PHONE = '+46700000000';
const V = '/verification/v1/verifications';
let clock: ReturnType<typeof manualClock>;
let emulator: SinchEmulator;
let baseUrl: string;

beforeEach(async () => {
  clock = manualClock();
  emulator = new SinchEmulator({ applicationKey: APP_KEY, applicationSecret: APP_SECRET, logger: captureLogger().logger, clock: clock.now });
  baseUrl = await emulator.start();
});
afterEach(() => emulator.stop());

/** A signed request; `text` is undefined when the connection dropped or the client gave up. */
async function call(method: string, path: string, body?: object, timeoutMs = 2000) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const timestamp = clock.now().toISOString();
  const authorization = signedAuthorization({
    method,
    path,
    contentType: 'application/json',
    timestamp,
    body: text,
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
  });
  try {
    const response = await fetch(baseUrl + path, {
      method,
      body: text,
      headers: { 'content-type': 'application/json', 'x-timestamp': timestamp, authorization },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  } catch (error) {
    return { status: undefined, error: (error as Error).name, text: undefined };
  }
}

const startSms = () => call('POST', V, { identity: { type: 'number', endpoint: PHONE }, method: 'sms' });

describe('http faults', () => {
  it('answer the error instead of handling: nothing changes; once by default', async () => {
    emulator.injectFault({ on: 'start', kind: 'http', status: 429, errorCode: 42900, retryAfter: 7 });
    const refused = await startSms();
    expect(refused.status).toBe(429);
    expect(refused.headers?.get('retry-after')).toBe('7');
    expect(JSON.parse(refused.text!)).toMatchObject({ errorCode: 42900, message: 'Injected fault.', reference: expect.any(String) });
    expect(emulator.verifications()).toEqual([]);
    expect((await startSms()).status).toBe(200);
    expect(emulator.requests.map((r) => [r.fault, r.responseStatus])).toEqual([
      ['http', 429],
      [undefined, 200],
    ]);
  });

  it('errorCode defaults to the status × 100; `times` repeats it; `any` matches every operation', async () => {
    emulator.injectFault({ on: 'any', kind: 'http', status: 503 }, { times: 2 });
    expect(JSON.parse((await startSms()).text!)).toMatchObject({ errorCode: 50300 });
    expect((await call('GET', `${V}/id/x`)).status).toBe(503);
    expect((await startSms()).status).toBe(200);
  });

  it('only meet their operation; clearFaults removes what is left', async () => {
    emulator.injectFault({ on: 'status', kind: 'http', status: 500 }, { times: 10 });
    const { text } = await startSms();
    const { id } = JSON.parse(text!);
    expect((await call('PUT', `${V}/id/${id}`, { method: 'sms', sms: { code: '1' } })).status).toBe(200);
    expect((await call('GET', `${V}/id/${id}`)).status).toBe(500);
    emulator.clearFaults();
    expect((await call('GET', `${V}/id/${id}`)).status).toBe(200);
  });

  it('refuse a nonsense times', () => {
    expect(() => emulator.injectFault({ on: 'any', kind: 'malformed' }, { times: 0 })).toThrow(RangeError);
  });
});

describe('malformed', () => {
  it('answers 200 with a body cut off mid-JSON, and handles nothing', async () => {
    emulator.injectFault({ on: 'start', kind: 'malformed' });
    const answer = await startSms();
    expect(answer.status).toBe(200);
    expect(() => JSON.parse(answer.text!)).toThrow();
    expect(emulator.verifications()).toEqual([]);
  });
});

describe('latency', () => {
  it('handles at once and answers late: the state changes even when the client gives up first', async () => {
    const { text } = await startSms();
    const { id } = JSON.parse(text!);
    emulator.injectFault({ on: 'report', kind: 'hold' });
    const late = await call('PUT', `${V}/id/${id}`, { method: 'sms', sms: { code: emulator.lastCodeFor(PHONE) } }, 100);
    expect(late).toMatchObject({ status: undefined, error: 'TimeoutError' });
    expect(emulator.verification(id)?.status).toBe('SUCCESSFUL');
    emulator.releaseHeld();
  });

  it('a client that waits long enough gets the real answer', async () => {
    emulator.injectFault({ on: 'start', kind: 'latency', ms: 50 });
    const startedAt = Date.now();
    const answer = await startSms();
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text!)).toMatchObject({ method: 'sms' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(45);
  });
});

describe('drop', () => {
  it('by default handles, then closes the connection without an answer', async () => {
    emulator.injectFault({ on: 'start', kind: 'drop' });
    expect(await startSms()).toMatchObject({ status: undefined, error: 'TypeError' });
    expect(emulator.verifications()).toHaveLength(1);
    expect(emulator.requests[0].fault).toBe('drop');
    expect(emulator.requests[0].responseStatus).toBeUndefined();
  });

  it('with afterHandling: false, drops before anything changes', async () => {
    emulator.injectFault({ on: 'start', kind: 'drop', afterHandling: false });
    expect((await startSms()).status).toBeUndefined();
    expect(emulator.verifications()).toEqual([]);
  });
});

describe('intercept', () => {
  it('still runs first, before faults', async () => {
    emulator.injectFault({ on: 'start', kind: 'http', status: 500 });
    emulator.intercept((_request, res) => {
      res.writeHead(418).end();
      return true;
    });
    expect((await startSms()).status).toBe(418);
    emulator.intercept(undefined);
    expect((await startSms()).status).toBe(500);
  });
});
