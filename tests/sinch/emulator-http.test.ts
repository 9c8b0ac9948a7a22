import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SinchEmulator, type SinchEmulatorOptions } from '../../src/sinch/emulator/server';
import { basicAuthorization, signedAuthorization } from '../../src/sinch/signing';
import { APP_KEY, APP_SECRET, captureLogger, manualClock } from './support';

// The emulator at the HTTP level, with hand-made requests, as any Sinch client would send them.

const PHONE = '+46700000000';
let clock: ReturnType<typeof manualClock>;
let emulator: SinchEmulator;
let baseUrl: string;
let nextCode = 100000;

async function boot(options: Partial<SinchEmulatorOptions> = {}) {
  await emulator?.stop();
  emulator = new SinchEmulator({
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
    logger: captureLogger().logger,
    clock: clock.now,
    generateCode: () => String(++nextCode),
    ...options,
  });
  baseUrl = await emulator.start();
}

beforeEach(async () => {
  clock = manualClock();
  await boot();
});
afterEach(() => emulator.stop());

interface Call {
  body?: unknown;
  headers?: Record<string, string>;
  /** Replace the Authorization header; `null` drops it. */
  authorization?: string | null;
  secret?: string;
}

async function call(method: string, path: string, options: Call = {}) {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const timestamp = clock.now().toISOString();
  const signed = signedAuthorization({
    method,
    path,
    contentType: 'application/json',
    timestamp,
    body,
    applicationKey: APP_KEY,
    applicationSecret: options.secret ?? APP_SECRET,
  });
  const authorization = options.authorization === undefined ? signed : options.authorization;
  const response = await fetch(baseUrl + path, {
    method,
    body,
    headers: {
      'content-type': 'application/json',
      'x-timestamp': timestamp,
      ...(authorization === null ? {} : { authorization }),
      ...options.headers,
    },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

const V = '/verification/v1/verifications';
const smsStart = (endpoint = PHONE, extra: object = {}) => ({ identity: { type: 'number', endpoint }, method: 'sms', ...extra });

describe('authentication', () => {
  it('unsigned → 401 40100 with a Sinch error body', async () => {
    const answer = await call('POST', V, { body: smsStart(), authorization: null });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.json).toEqual({ errorCode: 40100, message: 'Invalid authorization header', reference: expect.any(String) });
    expect(emulator.verifications()).toHaveLength(0);
  });

  it('bad signature → 401 40102; wrong key → 40107; no x-timestamp → 40101', async () => {
    expect((await call('POST', V, { body: smsStart(), secret: 'b3RoZXItc2VjcmV0' })).json?.errorCode).toBe(40102);
    expect((await call('POST', V, { body: smsStart(), authorization: `Application other-key:abc=` })).json?.errorCode).toBe(40107);
    const noTimestamp = await fetch(baseUrl + V, { method: 'GET', headers: { authorization: `Application ${APP_KEY}:abc=` } });
    expect(noTimestamp.status).toBe(401);
    expect(((await noTimestamp.json()) as { errorCode: number }).errorCode).toBe(40101);
    expect(emulator.requests.map((r) => r.auth.valid)).toEqual([false, false, false]);
  });

  it('accepts Basic unless configured not to', async () => {
    const basic = basicAuthorization(APP_KEY, APP_SECRET);
    expect((await call('POST', V, { body: smsStart(), authorization: basic })).status).toBe(200);
    await boot({ allowBasic: false });
    expect(await call('POST', V, { body: smsStart(), authorization: basic })).toMatchObject({ status: 401, json: { errorCode: 40107 } });
  });

  it('refuses stale timestamps only when a skew limit is set', async () => {
    await boot({ maxTimestampSkewSeconds: 600 });
    const stale = { 'x-timestamp': '2020-01-01T00:00:00.000Z' };
    // Signed over the stale timestamp, so only its age can be wrong.
    const authorization = signedAuthorization({
      method: 'GET',
      path: `${V}/id/x`,
      contentType: 'application/json',
      timestamp: stale['x-timestamp'],
      body: undefined,
      applicationKey: APP_KEY,
      applicationSecret: APP_SECRET,
    });
    expect((await call('GET', `${V}/id/x`, { headers: stale, authorization })).json?.errorCode).toBe(40101);
  });
});

describe('start', () => {
  it('answers the documented SMS shape, with _links and Content-Language', async () => {
    const answer = await call('POST', V, {
      body: smsStart(PHONE, { reference: 'ref-a', smsOptions: { expiry: '00:02:00' } }),
      headers: { 'accept-language': 'sv-SE' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-language')).toBe('sv-SE');
    const id = answer.json!.id as string;
    const href = `${baseUrl}${V}/id/${id}`;
    expect(answer.json).toEqual({
      id,
      method: 'sms',
      sms: { template: 'Your verification code is {{CODE}}.', interceptionTimeout: 120, codeType: 'Numeric' },
      _links: [
        { rel: 'status', href, method: 'GET' },
        { rel: 'report', href, method: 'PUT' },
      ],
    });
    expect(emulator.verification(id)?.expiresAt.toISOString()).toBe('2026-01-15T10:02:00.000Z');
  });

  it('refuses a duplicate reference with 409 40900', async () => {
    expect((await call('POST', V, { body: smsStart(PHONE, { reference: 'dup' }) })).status).toBe(200);
    expect(await call('POST', V, { body: smsStart('+46700000001', { reference: 'dup' }) })).toMatchObject({
      status: 409,
      json: { errorCode: 40900, message: 'Reference already defined' },
    });
  });

  it.each([
    ['a number without +', smsStart('46700000000'), 40002],
    ['no identity', { method: 'sms' }, 40002],
    ['no endpoint', { identity: { type: 'number' }, method: 'sms' }, 40002],
    ['a too short number', smsStart('+4813'), 40001],
    ['an unknown method', { ...smsStart(), method: 'pigeon' }, 40001],
    ['an unknown top-level field (.NET style)', { ...smsStart(), expiry: '00:05:00' }, 40001],
    ['a bad expiry', smsStart(PHONE, { smsOptions: { expiry: '5 minutes' } }), 40001],
    ['a bad codeType', smsStart(PHONE, { smsOptions: { codeType: 'Emoji' } }), 40001],
    ['bad JSON', '{"identity":', 40001],
  ])('refuses %s with 400 %i', async (_name, body, errorCode) => {
    expect(await call('POST', V, { body })).toMatchObject({ status: 400, json: { errorCode } });
  });

  it('answers seamless with the 403 40300 Sinch gives', async () => {
    expect(await call('POST', V, { body: { ...smsStart(), method: 'seamless' } })).toMatchObject({ status: 403, json: { errorCode: 40300 } });
  });

  it('accepts flashCall (legacy casing), answers flashcall, and verifies by CLI', async () => {
    const answer = await call('POST', V, { body: { ...smsStart(), method: 'flashCall', flashCallOptions: { interceptionTimeout: 30 } } });
    expect(answer.json).toMatchObject({
      method: 'flashcall',
      flashCall: { cliFilter: expect.any(String), interceptionTimeout: 30, reportTimeout: 60, denyCallAfter: 0 },
    });
    const cli = emulator.lastCodeFor(PHONE)!;
    expect(answer.json!.flashCall.cliFilter).toBe(`(.*)${cli.slice(-4)}(.*)`);
    const report = await call('PUT', `${V}/id/${answer.json!.id}`, { body: { method: 'flashcall', flashCall: { cli } } });
    expect(report.json).toMatchObject({ status: 'SUCCESSFUL', callComplete: true });
  });

  it('starts whatsapp minimally', async () => {
    const answer = await call('POST', V, { body: { ...smsStart(), method: 'whatsapp' } });
    expect(answer.json).toMatchObject({ method: 'whatsapp', whatsapp: { codeType: 'Numeric' } });
  });
});

describe('report and status', () => {
  it('reports by identity with a literal + and reads status by id, reference and identity', async () => {
    const { json: started } = await call('POST', V, { body: smsStart(PHONE, { reference: 'ref-b' }) });
    const code = emulator.lastCodeFor(PHONE)!;
    const report = await call('PUT', `${V}/number/${PHONE}`, { body: { sms: { code }, method: 'sms' } });
    expect(report.json).toEqual({ id: started!.id, method: 'sms', status: 'SUCCESSFUL', reference: 'ref-b' });
    expect(emulator.requests.at(-1)!.path).toBe(`${V}/number/+46700000000`);

    const expected = {
      id: started!.id,
      method: 'sms',
      status: 'SUCCESSFUL',
      reference: 'ref-b',
      identity: { type: 'number', endpoint: PHONE },
      countryId: 'SE',
      verificationTimestamp: '2026-01-15T10:00:00.0000000',
      source: 'manual',
      price: { verificationPrice: { currencyId: 'EUR', amount: 0.0453 } },
    };
    expect((await call('GET', `${V}/id/${started!.id}`)).json).toEqual(expected);
    expect((await call('GET', `${V}/reference/ref-b`)).json).toEqual(expected);
    expect((await call('GET', `${V}/sms/number/${PHONE}`)).json).toEqual(expected);
    expect((await call('GET', `${V}/sms/number/%2B46700000000`)).json).toEqual(expected);
    expect((await call('GET', `${V}/callout/number/${PHONE}`)).status).toBe(404);
  });

  it('a pending status has no price yet', async () => {
    const { json: started } = await call('POST', V, { body: smsStart() });
    const status = await call('GET', `${V}/id/${started!.id}`);
    expect(status.json).toMatchObject({ status: 'PENDING' });
    expect(status.json).not.toHaveProperty('price');
  });

  it('wrong code → FAIL / Invalid code; after expiry → FAIL / Expired; final states stay', async () => {
    const { json: started } = await call('POST', V, { body: smsStart() });
    const path = `${V}/id/${started!.id}`;
    expect((await call('PUT', path, { body: { method: 'sms', sms: { code: '000000' } } })).json).toMatchObject({
      status: 'FAIL',
      reason: 'Invalid code',
    });
    clock.advance(300);
    const code = emulator.lastCodeFor(PHONE)!;
    expect((await call('PUT', path, { body: { method: 'sms', sms: { code } } })).json).toMatchObject({ status: 'FAIL', reason: 'Expired' });
    expect(emulator.verification(started!.id)).toMatchObject({ status: 'FAIL', reason: 'Expired', reports: 1 });
  });

  it('starting again aborts the pending verification', async () => {
    const { json: first } = await call('POST', V, { body: smsStart() });
    await call('POST', V, { body: smsStart() });
    expect((await call('GET', `${V}/id/${first!.id}`)).json).toMatchObject({ status: 'ABORTED' });
    expect((await call('PUT', `${V}/id/${first!.id}`, { body: { method: 'sms', sms: { code: '1' } } })).json).toMatchObject({ status: 'ABORTED' });
  });

  it('unknown id or reference → 404 40400', async () => {
    expect(await call('GET', `${V}/id/nope`)).toMatchObject({ status: 404, json: { errorCode: 40400 } });
    expect(await call('PUT', `${V}/id/nope`, { body: { method: 'sms', sms: { code: '1' } } })).toMatchObject({
      status: 404,
      json: { errorCode: 40400 },
    });
    expect(await call('GET', `${V}/reference/nope`)).toMatchObject({ status: 404, json: { errorCode: 40400 } });
    expect(await call('GET', '/elsewhere')).toMatchObject({ status: 404, json: { errorCode: 40400 } });
  });

  it('a report without a code → 400 40002', async () => {
    const { json: started } = await call('POST', V, { body: smsStart() });
    expect(await call('PUT', `${V}/id/${started!.id}`, { body: { method: 'sms' } })).toMatchObject({ status: 400, json: { errorCode: 40002 } });
  });
});

describe('hooks for later issues', () => {
  it('an interceptor can take a request over before authentication (fault injection)', async () => {
    emulator.intercept((_request, response) => {
      response.writeHead(503, { 'content-type': 'application/json' }).end('{"errorCode":50300,"message":"down"}');
      return true;
    });
    expect(await call('POST', V, { body: smsStart(), authorization: null })).toMatchObject({ status: 503 });
    emulator.intercept(undefined);
    expect((await call('POST', V, { body: smsStart() })).status).toBe(200);
  });

  it('lifecycle events reach listeners (future signed callbacks)', async () => {
    const events: string[] = [];
    emulator.onEvent((event) => events.push(`${event.type}:${event.verification.status}`));
    await call('POST', V, { body: smsStart() });
    await call('POST', V, { body: smsStart() });
    expect(events).toEqual(['started:PENDING', 'changed:ABORTED', 'started:PENDING']);
  });
});
