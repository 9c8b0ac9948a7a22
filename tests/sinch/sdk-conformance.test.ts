import { generateAuthorizationHeader, validateAuthenticationHeader } from '@sinch/sdk-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallbackRequest, createSinchCallbackHandler, verifyCallback } from '../../src/sinch/callbacks';
import type { RecordedRequest } from '../../src/sinch/emulator/server';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { SinchGateway } from '../../src/sinch/gateway';
import { SinchHttp } from '../../src/sinch/http';
import { signedAuthorization } from '../../src/sinch/signing';
import { APP_KEY, APP_SECRET, captureLogger, manualClock, RecordingEvents, serveCallbacks } from './support';

// Our wire format checked against Sinch's own Node SDK (@sinch/sdk-core 1.4.0) as the oracle.

/** Deterministic, so a failure names a case that can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, pick };
}

const SECRETS = [APP_SECRET, 'bXkta2V5LXNlY3JldA==', 'BeIukql3pTKJ8RGL5zo0DA==', 'app-secret', '9876543210', 'JViE5vDor0Sw3WllZka15Q'];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'text/plain', ''];
const TEXTS = ['', 'plain', 'Zoë', 'Ünïcödé — “quotes”', '日本語のテキスト', '👍🏽 emoji', 'new\nline', '{"nested":"json"}', '+46700000000'];
const PATHS = [
  '/verification/v1/verifications',
  '/verification/v1/verifications/number/+46700000000',
  '/verification/v1/verifications/sms/number/+447700900123',
  '/verification/v1/verifications/id/1ce0ffee-c0de-5eed-d00d-f00dfeed1337',
  '/verification/v1/verifications/reference/ref+with+plus',
  '/sinch/callbacks',
];

describe('(a) our signature equals the SDK generateAuthorizationHeader', () => {
  const { next, pick } = random(20_261_127);
  const cases = Array.from({ length: 400 }, (_, i) => {
    const withBody = next() < 0.8;
    const body = withBody ? JSON.stringify({ i, text: pick(TEXTS), n: Math.round(next() * 1e6) / 100, list: [pick(TEXTS), null, true] }) : undefined;
    const timestamp = new Date(Date.UTC(2020, 0, 1) + Math.floor(next() * 2e11)).toISOString();
    return {
      method: pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']),
      body,
      contentType: pick(CONTENT_TYPES),
      timestamp: next() < 0.5 ? timestamp : timestamp.replace('Z', `${String(Math.floor(next() * 10_000)).padStart(4, '0')}Z`),
      path: pick(PATHS),
      applicationKey: `key-${i}`,
      applicationSecret: pick(SECRETS),
    };
  });

  it('for 400 generated requests (methods, unicode and empty bodies, charsets, literal +, lenient secrets)', () => {
    for (const c of cases) {
      const ours = signedAuthorization(c);
      const sdk = generateAuthorizationHeader(
        c.method,
        c.body,
        c.contentType,
        `x-timestamp:${c.timestamp}`,
        c.path,
        c.applicationKey,
        c.applicationSecret,
      );
      expect(ours, JSON.stringify(c)).toBe(sdk);
    }
  });
});

describe('with the gateway and the emulator', () => {
  const PHONE = '+447700900123';
  const clock = manualClock();
  const events = new RecordingEvents();
  const handlerOptions = { applicationKey: APP_KEY, applicationSecret: APP_SECRET, events, logger: captureLogger().logger, clock: clock.now };
  let receiver: Awaited<ReturnType<typeof serveCallbacks>>;
  let emulator: SinchEmulator;
  let sent: RecordedRequest[];

  beforeAll(async () => {
    receiver = await serveCallbacks(createSinchCallbackHandler(handlerOptions));
    const logger = captureLogger().logger;
    emulator = new SinchEmulator({ applicationKey: APP_KEY, applicationSecret: APP_SECRET, logger, clock: clock.now, callbackUrl: receiver.url });
    const baseUrl = await emulator.start();
    const options = {
      baseUrl,
      applicationKey: APP_KEY,
      applicationSecret: APP_SECRET,
      auth: 'signed' as const,
      timeoutMs: 2000,
      logger,
      clock: clock.now,
    };
    const g = new SinchGateway(options);
    const sms = await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'conf-sms', codeTtlSeconds: 600 });
    await g.report({ id: sms.id, method: 'sms', code: emulator.lastCodeFor(PHONE)! });
    const call = await g.start({ phoneNumber: '+447700900124', method: 'callout', reference: 'conf-call', codeTtlSeconds: 600 });
    await g.report({ id: call.id, method: 'callout', code: '000000' });
    await g.status(call.id);
    // By number too, as Sinch's identity routes take it: the + goes literally into the path.
    await new SinchHttp({ ...options, clock: clock.now }).send('GET', `/verification/v1/verifications/callout/number/${PHONE}`);
    await emulator.settled();
    sent = emulator.requests;
  });
  afterAll(async () => {
    await emulator.stop();
    await receiver.close();
  });

  it('(b) every request the gateway sent validates with the SDK, on the raw body and path', () => {
    expect(sent.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, '{id}')}`)).toEqual([
      'POST /verification/v1/verifications',
      'PUT /verification/v1/verifications/id/{id}',
      'POST /verification/v1/verifications',
      'PUT /verification/v1/verifications/id/{id}',
      'GET /verification/v1/verifications/id/{id}',
      'GET /verification/v1/verifications/callout/number/+447700900123',
    ]);
    for (const r of sent) {
      // The SDK hashes any truthy body, an empty Buffer included: a bodiless GET is given ''.
      expect(validateAuthenticationHeader(APP_KEY, APP_SECRET, r.headers, r.rawBody.toString('utf8'), r.path, r.method), r.path).toBe(true);
    }
  });

  it('(d) content-type is signed exactly as sent: any other value fails the SDK check', () => {
    for (const r of sent) {
      expect(r.headers['content-type']).toBe('application/json');
      const headers = { ...r.headers, 'content-type': 'application/json; charset=utf-8' };
      expect(validateAuthenticationHeader(APP_KEY, APP_SECRET, headers, r.rawBody.toString('utf8'), r.path, r.method)).toBe(false);
    }
  });

  it('(d) field names and casing of start and report bodies are the documented ones', () => {
    const [smsStart, smsReport, callStart, callReport] = sent.map((r) => JSON.parse(r.rawBody.toString() || 'null'));
    expect(smsStart).toEqual({
      identity: { type: 'number', endpoint: PHONE },
      method: 'sms',
      reference: 'conf-sms',
      smsOptions: { expiry: '00:10:00', codeType: 'Numeric' },
    });
    expect(smsStart.smsOptions.expiry).toMatch(/^\d{2}:[0-5]\d:[0-5]\d$/);
    expect(smsReport).toEqual({ method: 'sms', sms: { code: expect.stringMatching(/^\d{6}$/) } });
    expect(callStart).toEqual({
      identity: { type: 'number', endpoint: '+447700900124' },
      method: 'callout',
      reference: 'conf-call',
      calloutOptions: { speech: { locale: 'en-US' } },
    });
    expect(callReport).toEqual({ method: 'callout', callout: { code: '000000' } });
  });

  it('(d) a number in a path keeps its literal +, never %2B', () => {
    expect(sent.some((r) => r.path.includes('/number/+'))).toBe(true);
    for (const r of sent) expect(r.path).not.toMatch(/%2B/i);
  });

  describe('(c) our callback verification agrees with the SDK', () => {
    const asRequest = (c: (typeof emulator.callbacks)[number]): CallbackRequest => ({
      method: 'POST',
      path: new URL(receiver.url).pathname,
      headers: { ...c.headers },
      rawBody: Buffer.from(c.rawBody, 'utf8'),
    });
    const agree = (request: CallbackRequest, key = APP_KEY) => {
      const ours = verifyCallback(request, { ...handlerOptions, applicationKey: key }).valid;
      const sdk = validateAuthenticationHeader(key, APP_SECRET, request.headers, request.rawBody, request.path, request.method);
      expect(ours).toBe(sdk);
      return ours;
    };

    it('on every callback the emulator sent (valid), and each was accepted by the handler', () => {
      expect(emulator.callbacks.map((c) => c.event)).toEqual([
        'VerificationRequestEvent',
        'VerificationSmsDeliveredEvent',
        'VerificationResultEvent',
        'VerificationRequestEvent',
      ]);
      for (const c of emulator.callbacks) {
        expect(agree(asRequest(c))).toBe(true);
        expect(c.status).toBe(200);
      }
    });

    it.each<[string, (r: CallbackRequest) => CallbackRequest]>([
      ['body changed', (r) => ({ ...r, rawBody: Buffer.from(r.rawBody.toString().replace('"id":"', '"id":"x')) })],
      ['body re-serialized with spaces', (r) => ({ ...r, rawBody: Buffer.from(JSON.stringify(JSON.parse(r.rawBody.toString()), null, 1)) })],
      ['path changed', (r) => ({ ...r, path: '/sinch/callbacks/' })],
      ['timestamp changed', (r) => ({ ...r, headers: { ...r.headers, 'x-timestamp': clock.now().toISOString() } })],
      ['content type changed', (r) => ({ ...r, headers: { ...r.headers, 'content-type': 'application/json' } })],
      [
        'key in the header changed',
        (r) => ({ ...r, headers: { ...r.headers, authorization: String(r.headers.authorization).replace(APP_KEY, 'other-key') } }),
      ],
      ['signature changed', (r) => ({ ...r, headers: { ...r.headers, authorization: String(r.headers.authorization).replace(/.{4}=$/, 'AAAA=') } })],
    ])('on a tampered callback (%s): both refuse', (_name, tamper) => {
      for (const c of emulator.callbacks) expect(agree(tamper(asRequest(c)))).toBe(false);
    });

    it('with another application key configured: both refuse', () => {
      for (const c of emulator.callbacks) expect(agree(asRequest(c), 'other-key')).toBe(false);
    });

    it('on purpose not on Basic: the SDK takes `Basic key:secret` (undecoded), we refuse Basic altogether', () => {
      const request = { ...asRequest(emulator.callbacks[0]), headers: { authorization: `Basic ${APP_KEY}:${APP_SECRET}` } };
      expect(validateAuthenticationHeader(APP_KEY, APP_SECRET, request.headers, request.rawBody, request.path, 'POST')).toBe(true);
      expect(verifyCallback(request, handlerOptions).valid).toBe(false);
    });
  });
});
