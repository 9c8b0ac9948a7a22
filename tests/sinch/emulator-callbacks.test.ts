import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maskPhone } from '../../src/phones/mask';
import { createSinchCallbackHandler } from '../../src/sinch/callbacks';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { SinchGateway } from '../../src/sinch/gateway';
import { APP_KEY, APP_SECRET, appErrorOf, captureLogger, manualClock, RecordingEvents, serveCallbacks } from './support';

// The emulator's signed callbacks, over real HTTP, into the real handler with a recording fake
// ProviderEvents behind it: the whole callback path except the OTP flow.

const PHONE = '+447700900123';
let clock: ReturnType<typeof manualClock>;
let events: RecordingEvents;
let receiver: Awaited<ReturnType<typeof serveCallbacks>>;
let emulator: SinchEmulator;
let emulatorLogs: ReturnType<typeof captureLogger>;
let gateway: SinchGateway;
let references = 0;

async function boot(callbackUrl: string | undefined, secretForReceiver = APP_SECRET) {
  await emulator?.stop();
  await receiver?.close();
  clock = manualClock();
  events = new RecordingEvents();
  const handle = createSinchCallbackHandler({
    applicationKey: APP_KEY,
    applicationSecret: secretForReceiver,
    events,
    logger: captureLogger().logger,
    clock: clock.now,
  });
  receiver = await serveCallbacks(handle);
  emulatorLogs = captureLogger();
  const url = callbackUrl === 'receiver' ? receiver.url : callbackUrl;
  emulator = new SinchEmulator({
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
    logger: emulatorLogs.logger,
    clock: clock.now,
    callbackUrl: url,
  });
  const baseUrl = await emulator.start();
  gateway = new SinchGateway({
    baseUrl,
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
    auth: 'signed',
    timeoutMs: 2000,
    logger: captureLogger().logger,
    clock: clock.now,
  });
}

const start = (method: 'sms' | 'callout' = 'sms') =>
  gateway.start({ phoneNumber: PHONE, method, reference: `ref-${++references}`, codeTtlSeconds: 300 });

beforeEach(() => boot('receiver'));
afterEach(async () => {
  await emulator.stop();
  await receiver.close();
});

describe('VerificationRequestEvent', () => {
  it('is sent, signed like Sinch, before the start is answered; allow → the code goes out', async () => {
    const { id } = await start();
    // Already answered when the start returned: the emulator waited for it.
    const [request] = emulator.callbacks;
    expect(request).toMatchObject({ event: 'VerificationRequestEvent', verificationId: id, status: 200 });
    expect(JSON.parse(request.reply!)).toEqual({ action: 'allow' });
    expect(JSON.parse(request.rawBody)).toEqual({
      id,
      event: 'VerificationRequestEvent',
      method: 'sms',
      identity: { type: 'number', endpoint: PHONE },
      reference: `ref-${references}`,
      price: { currencyId: 'EUR', amount: 0.0453 },
    });
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.headers.authorization).toMatch(new RegExp(`^application ${APP_KEY}:[A-Za-z0-9+/]{43}=$`));
    expect(request.headers['x-timestamp']).toBe('2026-01-15T10:00:00.0000000Z');
    expect(receiver.received[0].path).toBe('/sinch/callbacks');
    expect(events.calls[0]).toEqual({ name: 'mayStart', input: { reference: `ref-${references}`, phoneNumber: PHONE, method: 'sms' } });
    expect(emulator.verification(id)?.status).toBe('PENDING');
    expect(emulatorLogs.text()).toContain(`SMS code ${emulator.lastCodeFor(PHONE)} for ${maskPhone(PHONE)}`);
  });

  it('deny → DENIED / Denied by callback, answered in the start; the gateway maps it; no code goes out', async () => {
    events.allow = false;
    const error = await appErrorOf(start());
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error.cause)).toContain('status DENIED (Denied by callback)');
    const [verification] = emulator.verifications();
    expect(verification).toMatchObject({ status: 'DENIED', reason: 'Denied by callback' });
    await emulator.settled();
    expect(emulator.callbacks.map((c) => c.event)).toEqual(['VerificationRequestEvent']);
    expect(emulatorLogs.text()).not.toContain(verification.secret);
  });

  it.each([
    [
      'the backend fails (500)',
      async () => {
        events.failWith = new Error('down');
      },
    ],
    ['the backend refuses the signature (401)', () => boot('receiver', 'b3RoZXItc2VjcmV0LXh4eHh4eA==')],
    ['nothing listens at the callback URL', () => boot('http://127.0.0.1:1/sinch/callbacks')],
  ])('%s → DENIED / Invalid callback', async (_name, arrange) => {
    await arrange();
    expect((await appErrorOf(start())).code).toBe('PROVIDER_UNAVAILABLE');
    expect(emulator.verifications()[0]).toMatchObject({ status: 'DENIED', reason: 'Invalid callback' });
  });

  it('a callout is asked about too, and gets no SMS delivery event', async () => {
    await start('callout');
    await emulator.settled();
    expect(emulator.callbacks.map((c) => c.event)).toEqual(['VerificationRequestEvent']);
    expect(events.calls[0]).toMatchObject({ input: { method: 'callout' } });
  });
});

describe('later events', () => {
  it('an SMS delivered → Successful, nothing for the backend to do', async () => {
    const { id } = await start();
    await emulator.settled();
    const delivered = emulator.callbacks[1];
    expect(delivered).toMatchObject({ event: 'VerificationSmsDeliveredEvent', verificationId: id, status: 200, reply: '' });
    expect(JSON.parse(delivered.rawBody)).toMatchObject({ smsResult: 'Successful', method: 'sms', identity: { endpoint: PHONE } });
    expect(events.calls.map((c) => c.name)).toEqual(['mayStart']);
  });

  it('an undeliverable number → Failed, then ERROR / SMS delivery failure; the backend hears it; a report is OTP_DELIVERY_FAILED', async () => {
    emulator.failDeliveryTo(PHONE);
    const { id } = await start();
    await emulator.settled();
    expect(emulator.callbacks.map((c) => [c.event, c.status])).toEqual([
      ['VerificationRequestEvent', 200],
      ['VerificationSmsDeliveredEvent', 200],
      ['VerificationResultEvent', 200],
    ]);
    expect(JSON.parse(emulator.callbacks[1].rawBody)).toMatchObject({ smsResult: 'Failed' });
    expect(JSON.parse(emulator.callbacks[2].rawBody)).toMatchObject({ status: 'ERROR', reason: 'SMS delivery failure' });
    // Both events say so; deliveryFailed must be idempotent.
    const failed = { name: 'deliveryFailed', input: { reference: `ref-${references}`, verificationId: id } };
    expect(events.calls.slice(1)).toEqual([failed, failed]);
    expect(await gateway.status(id)).toEqual({ status: 'ERROR', reason: 'SMS delivery failure' });
    expect((await appErrorOf(gateway.report({ id, method: 'sms', code: emulator.lastCodeFor(PHONE)! }))).code).toBe('OTP_DELIVERY_FAILED');
  });

  it('a report that verifies → VerificationResultEvent SUCCESSFUL; a wrong code sends none', async () => {
    const { id } = await start();
    const code = emulator.lastCodeFor(PHONE)!;
    await gateway.report({ id, method: 'sms', code: code === '000000' ? '111111' : '000000' });
    await gateway.report({ id, method: 'sms', code });
    await emulator.settled();
    const results = emulator.callbacks.filter((c) => c.event === 'VerificationResultEvent');
    expect(results.map((c) => JSON.parse(c.rawBody))).toEqual([
      {
        id,
        event: 'VerificationResultEvent',
        method: 'sms',
        identity: { type: 'number', endpoint: PHONE },
        status: 'SUCCESSFUL',
        reference: `ref-${references}`,
        source: 'manual',
      },
    ]);
    expect(results[0].status).toBe(200);
    expect(events.calls.map((c) => c.name)).toEqual(['mayStart']);
  });

  it('an expired code → VerificationResultEvent FAIL / Expired; a replaced one → ABORTED', async () => {
    await start();
    const second = await start();
    clock.advance(300);
    expect(await gateway.report({ id: second.id, method: 'sms', code: emulator.lastCodeFor(PHONE)! })).toEqual({ kind: 'expired' });
    await emulator.settled();
    const results = emulator.callbacks.filter((c) => c.event === 'VerificationResultEvent').map((c) => JSON.parse(c.rawBody));
    expect(results.map((r) => [r.status, r.reason])).toEqual([
      ['ABORTED', undefined],
      ['FAIL', 'Expired'],
    ]);
    expect(emulator.callbacks.every((c) => c.status === 200)).toBe(true);
  });
});

describe('without a callback URL', () => {
  it('sends nothing and starts at once, as before', async () => {
    await boot(undefined);
    const { id } = await start();
    await emulator.settled();
    expect(emulator.callbacks).toEqual([]);
    expect(receiver.received).toEqual([]);
    expect(emulator.verification(id)?.status).toBe('PENDING');
  });
});
