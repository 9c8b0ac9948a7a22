import { describe, expect, it } from 'vitest';
import { type CallbackRequest, createSinchCallbackHandler, verifyCallback } from '../../src/sinch/callbacks';
import { signedAuthorization } from '../../src/sinch/signing';
import { APP_KEY, APP_SECRET, captureLogger, manualClock, RecordingEvents } from './support';

// The callback handler on raw requests: Sinch's own vectors, refusals, and each event type.

function setup(options: { key?: string; secret?: string; at?: string } = {}) {
  const events = new RecordingEvents();
  const logs = captureLogger();
  const clock = manualClock(options.at);
  const config = { applicationKey: options.key ?? APP_KEY, applicationSecret: options.secret ?? APP_SECRET, events, logger: logs.logger };
  const handle = createSinchCallbackHandler({ ...config, clock: clock.now });
  return { events, logs, clock, handle, config: { ...config, clock: clock.now } };
}

const PATH = '/sinch/callbacks';
const PHONE = '+447700900123';

/** A callback signed as Sinch signs them, at the clock's time unless told otherwise. */
function signed(body: object | string, at: Date, overrides: Partial<CallbackRequest> = {}): CallbackRequest {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const timestamp = at.toISOString().replace('Z', '0000Z');
  const contentType = 'application/json; charset=utf-8';
  const authorization = signedAuthorization({
    method: 'POST',
    path: PATH,
    contentType,
    timestamp,
    body: raw,
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
  }).replace('Application', 'application');
  return {
    method: 'POST',
    path: PATH,
    headers: { 'content-type': contentType, 'x-timestamp': timestamp, authorization },
    rawBody: Buffer.from(raw, 'utf8'),
    ...overrides,
  };
}

const V2 = {
  key: '669E367E-6BBA-48AB-AF15-266871C28135',
  secret: 'BeIukql3pTKJ8RGL5zo0DA==',
  at: '2014-09-24T10:59:41Z',
  request: (): CallbackRequest => ({
    method: 'POST',
    path: '/sinch/callback/ace',
    headers: {
      'content-type': 'application/json',
      'x-timestamp': '2014-09-24T10:59:41Z',
      authorization: 'application 669E367E-6BBA-48AB-AF15-266871C28135:Tg6fMyo8mj9pYfWQ9ssbx3Tc1BNC87IEygAfLbJqZb4=',
    },
    rawBody: Buffer.from('{"event":"ace","callid":"822aa4b7-05b4-4d83-87c7-1f835ee0b6f6_257","timestamp":"2014-09-24T10:59:41Z","version":1}'),
  }),
};

const V9 = {
  key: '789',
  secret: '9876543210',
  at: '2023-12-01T15:01:20.040Z',
  request: (): CallbackRequest => ({
    method: 'POST',
    path: '/VerificationRequestEvent',
    headers: {
      authorization: 'application 789:xfKhO0XvlRNJraahUBEJzzi1f3Fn3pYO41/ZzwOHPaQ=',
      'content-type': 'application/json; charset=utf-8',
      'x-timestamp': '2023-12-01T15:01:20.0406449Z',
    },
    rawBody: Buffer.from(
      '{"id":"018c25e1-7163-5677-b8fb-467d7b1cffa5","event":"VerificationResultEvent","method":"sms","identity":{"verified":false,"type":"number","endpoint":"+33628254417"},"status":"FAIL","reason":"Expired"}',
    ),
  }),
};

describe('Sinch test vectors', () => {
  it('V2 (docs callback signing) verifies; its "ace" event is signed but unusable → 400', async () => {
    const t = setup({ key: V2.key, secret: V2.secret, at: V2.at });
    expect(verifyCallback(V2.request(), t.config)).toEqual({ valid: true, scheme: 'signed' });
    expect(await t.handle(V2.request())).toEqual({ status: 400 });
    expect(t.events.calls).toEqual([]);
  });

  // .NET AuthenticationHeaderValidationTests: each must be refused, and nothing reaches events.
  const headers = V2.request().headers;
  it.each<[string, Partial<CallbackRequest>, string?]>([
    ['another path', { path: '/not/that/path' }],
    ['another x-timestamp', { headers: { ...headers, 'x-timestamp': '2019-11-03T10:59:41Z' } }, '2019-11-03T10:59:41Z'],
    ['another content type', { headers: { ...headers, 'x-timestamp': '2019-11-03T10:59:41Z', 'content-type': 'text/html' } }, '2019-11-03T10:59:41Z'],
    ['another body', { rawBody: Buffer.from('{"hello":"world"}') }],
    [
      'scheme word "authorization"',
      { headers: { ...headers, authorization: String(headers.authorization).replace('application', 'authorization') } },
    ],
    ['a wrong signature', { headers: { ...headers, authorization: `application ${V2.key}:bdJO/XUVvIsb5SlZAKmvfw==` } }],
    ['no Authorization header', { headers: { 'content-type': 'application/json', 'x-timestamp': '2014-09-24T10:59:41Z' } }],
  ])('V2 with %s → 401', async (_name, change, at) => {
    // The clock sits at the request's own time, so the signature is what fails, not the age.
    const t = setup({ key: V2.key, secret: V2.secret, at: at ?? V2.at });
    expect(await t.handle({ ...V2.request(), ...change })).toEqual({ status: 401 });
    expect(t.events.calls).toEqual([]);
    expect(t.logs.lines.filter((line) => line.level === 40)).toHaveLength(1);
  });

  it('V2 as a GET does not verify, and the handler answers 405 before looking', async () => {
    const t = setup({ key: V2.key, secret: V2.secret, at: V2.at });
    expect(verifyCallback({ ...V2.request(), method: 'GET' }, t.config).valid).toBe(false);
    expect(await t.handle({ ...V2.request(), method: 'GET' })).toEqual({ status: 405 });
  });

  it('V9 (a real Sinch callback) verifies at its own time: a FAIL result → empty 200, no event call', async () => {
    const t = setup({ key: V9.key, secret: V9.secret, at: V9.at });
    expect(await t.handle(V9.request())).toEqual({ status: 200 });
    expect(t.events.calls).toEqual([]);
  });

  it('V9 with Application / APPLICATION as the scheme word verifies too', async () => {
    const t = setup({ key: V9.key, secret: V9.secret, at: V9.at });
    for (const scheme of ['Application', 'APPLICATION']) {
      const request = V9.request();
      request.headers.authorization = String(request.headers.authorization).replace('application', scheme);
      expect((await t.handle(request)).status).toBe(200);
    }
  });
});

describe('refusals', () => {
  it('a timestamp more than 300 s old or ahead → 401; within 300 s → accepted', async () => {
    for (const [offset, status] of [
      [299, 200],
      [-299, 200],
      [301, 401],
      [-301, 401],
    ]) {
      const t = setup({ key: V9.key, secret: V9.secret, at: V9.at });
      t.clock.advance(offset);
      expect((await t.handle(V9.request())).status).toBe(status);
    }
    // Without a clock of its own, today's time makes the 2023 vector stale.
    const events = new RecordingEvents();
    const handle = createSinchCallbackHandler({ applicationKey: V9.key, applicationSecret: V9.secret, events, logger: captureLogger().logger });
    expect(await handle(V9.request())).toEqual({ status: 401 });
  });

  it('Basic is not how Sinch signs callbacks: refused, in the standard form and in the SDK-bug form', async () => {
    const t = setup();
    const body = Buffer.from(JSON.stringify({ id: 'v1', event: 'VerificationResultEvent', status: 'ERROR' }));
    for (const authorization of [`Basic ${Buffer.from(`${APP_KEY}:${APP_SECRET}`).toString('base64')}`, `Basic ${APP_KEY}:${APP_SECRET}`]) {
      expect(await t.handle({ method: 'POST', path: PATH, headers: { authorization }, rawBody: body })).toEqual({ status: 401 });
    }
    expect(t.events.calls).toEqual([]);
  });

  it('a non-POST → 405 and nothing else happens', async () => {
    const t = setup();
    for (const method of ['GET', 'PUT', 'DELETE']) expect(await t.handle(signed({}, t.clock.now(), { method }))).toEqual({ status: 405 });
    expect(t.events.calls).toEqual([]);
  });

  it.each([
    ['not JSON', '{"event":'],
    ['a JSON array', '[]'],
    ['an unknown event', { id: 'v1', event: 'VerificationSomethingEvent' }],
    ['no event', { id: 'v1' }],
    ['no id', { event: 'VerificationResultEvent', status: 'ERROR' }],
  ])('signed but %s → 400', async (_name, body) => {
    const t = setup();
    expect(await t.handle(signed(body, t.clock.now()))).toEqual({ status: 400 });
    expect(t.events.calls).toEqual([]);
  });

  it('the refusal log line carries no key, secret, signature or number', async () => {
    const t = setup();
    const request = signed({ id: 'v1', event: 'VerificationRequestEvent', identity: { type: 'number', endpoint: PHONE } }, t.clock.now());
    await t.handle({ ...request, path: '/elsewhere' });
    const [line] = t.logs.lines;
    expect(line).toMatchObject({ level: 40, errorCode: 40102, msg: 'refused a Sinch callback: Invalid signature' });
    const authorization = String(request.headers.authorization);
    for (const secret of [APP_SECRET, authorization.split(':')[1], PHONE, '7700900123']) expect(t.logs.text()).not.toContain(secret);
  });
});

describe('events', () => {
  const requestEvent = (extra: object = {}) => ({
    id: 'v-1',
    event: 'VerificationRequestEvent',
    method: 'sms',
    identity: { type: 'number', endpoint: PHONE },
    reference: 'ref-1',
    price: { currencyId: 'EUR', amount: 0.0453 },
    ...extra,
  });

  it('VerificationRequestEvent asks mayStart and answers allow or deny', async () => {
    const t = setup();
    expect(await t.handle(signed(requestEvent(), t.clock.now()))).toEqual({ status: 200, body: { action: 'allow' } });
    t.events.allow = false;
    expect(await t.handle(signed(requestEvent({ method: 'callout' }), t.clock.now()))).toEqual({ status: 200, body: { action: 'deny' } });
    expect(t.events.calls).toEqual([
      { name: 'mayStart', input: { reference: 'ref-1', phoneNumber: PHONE, method: 'sms' } },
      { name: 'mayStart', input: { reference: 'ref-1', phoneNumber: PHONE, method: 'callout' } },
    ]);
  });

  it('tells onDenied each reference it denies, and nothing it allows', async () => {
    const t = setup();
    const denied: string[] = [];
    const handle = createSinchCallbackHandler({ ...t.config, onDenied: (reference) => denied.push(reference) });
    await handle(signed(requestEvent({ reference: 'ref-allowed' }), t.clock.now()));
    t.events.allow = false;
    expect(await handle(signed(requestEvent({ reference: 'ref-denied' }), t.clock.now()))).toEqual({ status: 200, body: { action: 'deny' } });
    expect(denied).toEqual(['ref-denied']);
  });

  it.each([
    ['a flash call', { method: 'flashcall' }],
    ['WhatsApp', { method: 'whatsapp' }],
    ['no reference', { reference: undefined }],
    ['no number', { identity: { type: 'number' } }],
  ])('VerificationRequestEvent for %s → deny without asking', async (_name, extra) => {
    const t = setup();
    expect(await t.handle(signed(requestEvent(extra), t.clock.now()))).toEqual({ status: 200, body: { action: 'deny' } });
    expect(t.events.calls).toEqual([]);
  });

  it('VerificationSmsDeliveredEvent: Failed → deliveryFailed; Successful → nothing; both an empty 200', async () => {
    const t = setup();
    const delivered = (smsResult: string, extra: object = {}) =>
      signed({ id: 'v-1', event: 'VerificationSmsDeliveredEvent', method: 'sms', reference: 'ref-1', smsResult, ...extra }, t.clock.now());
    expect(await t.handle(delivered('Successful'))).toEqual({ status: 200 });
    expect(await t.handle(delivered('Failed'))).toEqual({ status: 200 });
    expect(await t.handle(delivered('Failed', { reference: undefined }))).toEqual({ status: 200 });
    expect(t.events.calls).toEqual([
      { name: 'deliveryFailed', input: { reference: 'ref-1', verificationId: 'v-1' } },
      { name: 'deliveryFailed', input: { reference: undefined, verificationId: 'v-1' } },
    ]);
  });

  it('VerificationResultEvent: ERROR and DENIED → deliveryFailed; other statuses → nothing', async () => {
    const t = setup();
    for (const status of ['SUCCESSFUL', 'FAIL', 'ABORTED', 'PENDING', 'ERROR', 'DENIED']) {
      const body = { id: `v-${status}`, event: 'VerificationResultEvent', method: 'sms', reference: 'ref-1', status };
      expect(await t.handle(signed(body, t.clock.now()))).toEqual({ status: 200 });
    }
    expect(t.events.calls).toEqual([
      { name: 'deliveryFailed', input: { reference: 'ref-1', verificationId: 'v-ERROR' } },
      { name: 'deliveryFailed', input: { reference: 'ref-1', verificationId: 'v-DENIED' } },
    ]);
  });

  it('events failing → 500 (Sinch retries) and one error line', async () => {
    const t = setup();
    t.events.failWith = new Error('database down');
    expect(await t.handle(signed(requestEvent(), t.clock.now()))).toEqual({ status: 500 });
    const failed = { id: 'v-1', event: 'VerificationResultEvent', status: 'ERROR' };
    expect(await t.handle(signed(failed, t.clock.now()))).toEqual({ status: 500 });
    const errors = t.logs.lines.filter((line) => line.level === 50);
    expect(errors.map((line) => line.msg)).toEqual(['handling a Sinch callback failed', 'handling a Sinch callback failed']);
    expect(errors[0]).toMatchObject({ event: 'VerificationRequestEvent', verificationId: 'v-1' });
    expect(t.logs.text()).not.toContain(PHONE);
  });
});
