import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maskPhone } from '../../src/phones/mask';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { formatExpiry, SinchGateway, type SinchGatewayOptions } from '../../src/sinch/gateway';
import { APP_KEY, APP_SECRET, appErrorOf, captureLogger, manualClock } from './support';

// The gateway against the emulator over real HTTP: no mocks on either side.

const PHONE = '+447700900123';
let clock: ReturnType<typeof manualClock>;
let emulator: SinchEmulator;
let emulatorLogs: ReturnType<typeof captureLogger>;
let gatewayLogs: ReturnType<typeof captureLogger>;
let baseUrl: string;
let references = 0;

function gateway(overrides: Partial<SinchGatewayOptions> = {}): SinchGateway {
  return new SinchGateway({
    baseUrl,
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
    auth: 'signed',
    timeoutMs: 2000,
    logger: gatewayLogs.logger,
    clock: clock.now,
    ...overrides,
  });
}

const startSms = (g: SinchGateway, phoneNumber = PHONE) =>
  g.start({ phoneNumber, method: 'sms', reference: `ref-${++references}`, codeTtlSeconds: 300 });

beforeEach(async () => {
  clock = manualClock();
  emulatorLogs = captureLogger();
  gatewayLogs = captureLogger();
  emulator = new SinchEmulator({ applicationKey: APP_KEY, applicationSecret: APP_SECRET, logger: emulatorLogs.logger, clock: clock.now });
  baseUrl = await emulator.start();
});

afterEach(async () => {
  await emulator.stop();
});

describe('SMS', () => {
  it('starts, and the right code verifies', async () => {
    const g = gateway();
    const { id } = await startSms(g);
    const code = emulator.lastCodeFor(PHONE);
    expect(code).toMatch(/^\d{6}$/);
    expect(await g.status(id)).toEqual({ status: 'PENDING' });
    expect(await g.report({ id, method: 'sms', code: code! })).toEqual({ kind: 'verified' });
    expect(emulator.verification(id)?.status).toBe('SUCCESSFUL');
    expect(await g.status(id)).toEqual({ status: 'SUCCESSFUL' });
  });

  it('a wrong code is wrong_code and the right one still verifies afterwards', async () => {
    const g = gateway();
    const { id } = await startSms(g);
    const code = emulator.lastCodeFor(PHONE)!;
    const wrong = code === '000000' ? '111111' : '000000';
    expect(await g.report({ id, method: 'sms', code: wrong })).toEqual({ kind: 'wrong_code' });
    expect(await g.status(id)).toEqual({ status: 'FAIL', reason: 'Invalid code' });
    expect(await g.report({ id, method: 'sms', code })).toEqual({ kind: 'verified' });
  });

  it('a code Sinch refuses as malformed (400 40001) is a wrong code', async () => {
    const g = gateway();
    const { id } = await startSms(g);
    expect(await g.report({ id, method: 'sms', code: '12 34' })).toEqual({ kind: 'wrong_code' });
  });

  it('after smsOptions.expiry the right code is expired', async () => {
    const g = gateway();
    const { id } = await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'ref-exp', codeTtlSeconds: 120 });
    clock.advance(119);
    expect(await g.status(id)).toEqual({ status: 'PENDING' });
    clock.advance(1);
    expect(await g.report({ id, method: 'sms', code: emulator.lastCodeFor(PHONE)! })).toEqual({ kind: 'expired' });
    expect(await g.status(id)).toEqual({ status: 'FAIL', reason: 'Expired' });
  });

  it('a new verification for the number aborts the earlier one', async () => {
    const g = gateway();
    const first = await startSms(g);
    const firstCode = emulator.lastCodeFor(PHONE)!;
    const second = await startSms(g);
    expect(emulator.verification(first.id)?.status).toBe('ABORTED');
    expect(await g.report({ id: first.id, method: 'sms', code: firstCode })).toEqual({ kind: 'expired' });
    expect(await g.report({ id: second.id, method: 'sms', code: emulator.lastCodeFor(PHONE)! })).toEqual({ kind: 'verified' });
  });

  it('an id Sinch does not know reports as expired, and its status is OTP_EXPIRED', async () => {
    const g = gateway();
    expect(await g.report({ id: 'no-such-id', method: 'sms', code: '123456' })).toEqual({ kind: 'expired' });
    expect((await appErrorOf(g.status('no-such-id'))).code).toBe('OTP_EXPIRED');
  });
});

describe('voice call (callout)', () => {
  it('starts with calloutOptions and no expiry, and the code verifies', async () => {
    const g = gateway();
    const { id } = await g.start({ phoneNumber: PHONE, method: 'callout', reference: 'ref-call', codeTtlSeconds: 300 });
    const start = emulator.requests.find((r) => r.method === 'POST')!;
    expect(JSON.parse(start.rawBody.toString())).toEqual({
      identity: { type: 'number', endpoint: PHONE },
      method: 'callout',
      reference: 'ref-call',
      calloutOptions: { speech: { locale: 'en-US' } },
    });
    expect(await g.report({ id, method: 'callout', code: emulator.lastCodeFor(PHONE)! })).toEqual({ kind: 'verified' });
    const report = emulator.requests.find((r) => r.method === 'PUT')!;
    expect(JSON.parse(report.rawBody.toString())).toEqual({ method: 'callout', callout: { code: emulator.lastCodeFor(PHONE) } });
  });
});

describe('the wire format the emulator recorded', () => {
  it('matches the documented bodies, headers and signature', async () => {
    const g = gateway();
    const { id } = await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'ref-wire', codeTtlSeconds: 300 });
    await g.report({ id, method: 'sms', code: '000001' });
    clock.advance(7);
    await g.status(id);

    const [start, report, status] = emulator.requests;
    expect(start.method).toBe('POST');
    expect(start.path).toBe('/verification/v1/verifications');
    // Field names and order as documented; the + of the number is literal, not escaped.
    expect(start.rawBody.toString()).toBe(
      '{"identity":{"type":"number","endpoint":"+447700900123"},"method":"sms","reference":"ref-wire","smsOptions":{"expiry":"00:05:00","codeType":"Numeric"}}',
    );
    expect(report.method).toBe('PUT');
    expect(report.path).toBe(`/verification/v1/verifications/id/${id}`);
    expect(report.rawBody.toString()).toBe('{"method":"sms","sms":{"code":"000001"}}');
    expect(status.method).toBe('GET');
    expect(status.path).toBe(`/verification/v1/verifications/id/${id}`);
    expect(status.rawBody.length).toBe(0);

    for (const request of [start, report, status]) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toMatch(new RegExp(`^Application ${APP_KEY}:[A-Za-z0-9+/]{43}=$`));
      expect(request.auth).toEqual({ valid: true, scheme: 'signed' });
    }
    // A fresh x-timestamp per request, from the injected clock.
    expect(start.headers['x-timestamp']).toBe('2026-01-15T10:00:00.000Z');
    expect(status.headers['x-timestamp']).toBe('2026-01-15T10:00:07.000Z');
  });

  it('Basic mode sends base64(key:secret) and works end to end', async () => {
    const g = gateway({ auth: 'basic' });
    const { id } = await startSms(g);
    expect(await g.report({ id, method: 'sms', code: emulator.lastCodeFor(PHONE)! })).toEqual({ kind: 'verified' });
    expect(emulator.requests[0].headers.authorization).toBe(`Basic ${Buffer.from(`${APP_KEY}:${APP_SECRET}`).toString('base64')}`);
    expect(emulator.requests.every((r) => r.auth.valid && r.auth.scheme === 'basic')).toBe(true);
  });
});

describe('refusals', () => {
  it.each(['signed', 'basic'] as const)('wrong %s credentials → PROVIDER_UNAVAILABLE and one operator error line', async (auth) => {
    const g = gateway({ auth, applicationSecret: 'd3Jvbmctc2VjcmV0LXh4eA==' });
    const error = await appErrorOf(startSms(g));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error.cause)).toContain('HTTP 401');
    expect(error.message).not.toContain('401');
    const errors = gatewayLogs.lines.filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(/^Sinch rejected our application credentials \(401\d\d\) — check SINCH_APPLICATION_KEY\/SECRET/);
    expect(gatewayLogs.text()).not.toContain('d3Jvbmctc2VjcmV0LXh4eA==');
  });

  it('an invalid number → PHONE_NUMBER_NOT_ALLOWED; a number without + (our bug) → INTERNAL_SERVER_ERROR', async () => {
    const g = gateway();
    expect((await appErrorOf(startSms(g, '+4813'))).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    expect((await appErrorOf(startSms(g, '447700900123'))).code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('a reused reference → INTERNAL_SERVER_ERROR', async () => {
    const g = gateway();
    await g.start({ phoneNumber: PHONE, method: 'sms', reference: 'same', codeTtlSeconds: 300 });
    const error = await appErrorOf(g.start({ phoneNumber: '+447700900124', method: 'sms', reference: 'same', codeTtlSeconds: 300 }));
    expect(error.code).toBe('INTERNAL_SERVER_ERROR');
    expect(String(error.cause)).toContain('40900');
  });
});

describe('logs', () => {
  it('the gateway never logs a code, a full number or a credential; the emulator logs the code once', async () => {
    const g = gateway();
    const { id } = await startSms(g);
    const code = emulator.lastCodeFor(PHONE)!;
    await g.report({ id, method: 'sms', code: '999999' === code ? '888888' : '999999' });
    await g.report({ id, method: 'sms', code });
    await g.status(id);

    const gatewayText = gatewayLogs.text();
    expect(gatewayText).toContain(maskPhone(PHONE));
    for (const secret of [code, PHONE, '7700900123', APP_SECRET, 'Application ']) expect(gatewayText).not.toContain(secret);

    const codeLines = emulatorLogs.lines.filter((line) => String(line.msg).includes(code));
    expect(codeLines.map((line) => line.msg)).toEqual([`Sinch emulator: SMS code ${code} for ${maskPhone(PHONE)} (verification ${id})`]);
    expect(emulatorLogs.text()).not.toContain(PHONE);
  });
});

describe('formatExpiry', () => {
  it('writes Sinch HH:MM:SS and refuses what it cannot write', () => {
    expect(formatExpiry(300)).toBe('00:05:00');
    expect(formatExpiry(3661)).toBe('01:01:01');
    for (const bad of [0, -1, 1.5, 100 * 3600]) expect(() => formatExpiry(bad)).toThrow(RangeError);
  });
});
