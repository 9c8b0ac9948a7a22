import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { SendOutcomeUnknown } from '../../src/otp/otp-provider';
import { SinchGateway } from '../../src/sinch/gateway';
import { APP_KEY, APP_SECRET, captureLogger, manualClock } from './support';

// The gateway against throwaway servers that misbehave the ways real networks and Sinch do.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server | undefined;
let hits = 0;
let methods: string[] = [];

async function serve(handler: Handler): Promise<string> {
  hits = 0;
  methods = [];
  server = createServer((req, res) => {
    hits += 1;
    methods.push(req.method ?? '');
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s)
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

function gatewayAt(baseUrl: string, logs = captureLogger()) {
  return new SinchGateway({
    baseUrl,
    applicationKey: APP_KEY,
    applicationSecret: APP_SECRET,
    auth: 'signed',
    timeoutMs: 200,
    logger: logs.logger,
    clock: manualClock().now,
  });
}

const startInput = { phoneNumber: '+447700900123', method: 'sms', reference: 'r-1', codeTtlSeconds: 300 } as const;

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('HTTP errors', () => {
  it('500 → PROVIDER_UNAVAILABLE, sent once (a start is never retried)', async () => {
    const g = gatewayAt(await serve(json(500, { errorCode: 50000, message: 'Internal server error.' })));
    const error = await failure(g.start(startInput));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.extensions).toEqual({});
    expect(String(error.cause)).toContain('HTTP 500 errorCode 50000');
    expect(hits).toBe(1);
  });

  it('503 with Retry-After → PROVIDER_UNAVAILABLE with retryAfterSeconds; a report is not retried either', async () => {
    const g = gatewayAt(await serve(json(503, { errorCode: 50300, message: 'Service is temporarily unavailable' }, { 'retry-after': '12' })));
    const error = await failure(g.report({ id: 'v-1', method: 'sms', code: '123456' }));
    expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', extensions: { retryAfterSeconds: 12 } });
    expect(hits).toBe(1);
  });

  it('429 with Retry-After seconds → RATE_LIMITED with that delay', async () => {
    const g = gatewayAt(
      await serve(json(429, { errorCode: 42901, message: 'Cannot initiate verification to the same number too quickly' }, { 'retry-after': '45' })),
    );
    expect(await failure(g.start(startInput))).toMatchObject({ code: 'RATE_LIMITED', extensions: { retryAfterSeconds: 45 } });
    expect(hits).toBe(1);
  });

  it('429 with a Retry-After date counts from the injected clock; without one, 30 s', async () => {
    const date = new Date(manualClock().now().getTime() + 90_000).toUTCString();
    let g = gatewayAt(await serve(json(429, { errorCode: 42900 }, { 'retry-after': date })));
    expect(await failure(g.start(startInput))).toMatchObject({ code: 'RATE_LIMITED', extensions: { retryAfterSeconds: 90 } });
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    g = gatewayAt(await serve(json(429, { errorCode: 42900, message: 'Request capacity exceeded' })));
    expect(await failure(g.start(startInput))).toMatchObject({ code: 'RATE_LIMITED', extensions: { retryAfterSeconds: 30 } });
  });

  it('402 → PROVIDER_UNAVAILABLE with an operator error line', async () => {
    const logs = captureLogger();
    const g = gatewayAt(await serve(json(402, { errorCode: 40200, message: 'Not enough credit' })), logs);
    expect((await failure(g.start(startInput))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(logs.lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['Sinch account is out of credit (40200) — top up the Sinch account']);
  });

  it('a Sinch message quoting the number is masked in the cause', async () => {
    const g = gatewayAt(await serve(json(400, { errorCode: 40001, message: 'Number +447700900123 is invalid.' })));
    const error = await failure(g.start(startInput));
    expect(error.code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    expect(String(error.cause)).not.toContain('447700900123');
    expect(String(error.cause)).toContain('*23');
  });

  it('a 200 DENIED / Fraud on start → PHONE_NUMBER_NOT_ALLOWED; ERROR → OTP_DELIVERY_FAILED', async () => {
    let g = gatewayAt(await serve(json(200, { id: 'v-1', method: 'sms', status: 'DENIED', reason: 'Fraud' })));
    expect((await failure(g.start(startInput))).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    g = gatewayAt(await serve(json(200, { id: 'v-1', method: 'sms', status: 'ERROR', reason: 'SMS delivery failure' })));
    expect((await failure(g.report({ id: 'v-1', method: 'sms', code: '1' }))).code).toBe('OTP_DELIVERY_FAILED');
  });

  // Attack review: a user deleting the account while their requestOtp was on its way made our
  // callback deny the start, and the gateway told the operator to check the callback setting.
  it('a start denied on our callback’s deny of its reference: a warning, not an operator error; any other: the operator error', async () => {
    const deniedByCallback = json(200, { id: 'v-1', method: 'sms', status: 'DENIED', reason: 'Denied by callback' });
    const logs = captureLogger();
    const g = gatewayAt(await serve(deniedByCallback), logs);
    g.noteDenied(startInput.reference);
    expect((await failure(g.start(startInput))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(logs.lines.filter((line) => (line.level as number) >= 50)).toEqual([]);
    expect(logs.lines.find((line) => line.level === 40)?.msg).toMatch(/its challenge had ended meanwhile/);

    const fresh = captureLogger();
    const other = gatewayAt(server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : '', fresh);
    other.noteDenied('another-reference');
    expect((await failure(other.start(startInput))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(fresh.lines.find((line) => line.level === 50)?.msg).toMatch(/check the callback URL setting/);
  });
});

/** Answers a start with `start`, and the lookup by reference that follows with `lookup`. */
const startThenLookup =
  (start: Handler, lookup: Handler): Handler =>
  (req, res) =>
    (req.method === 'POST' ? start : lookup)(req, res);
const notFound = json(404, { errorCode: 40400, message: 'Requested resource was not found.' });

describe('malformed answers', () => {
  // A 2xx says Sinch took the start: its status by reference tells whether it did.
  it.each([
    ['not JSON', '<html>oops</html>'],
    ['a JSON array', '[]'],
    ['a start answer without id', '{"method":"sms"}'],
    ['an empty body', ''],
  ])('%s → looked up by reference: 404 → PROVIDER_UNAVAILABLE; unreadable too → SendOutcomeUnknown', async (_name, body) => {
    let g = gatewayAt(await serve(startThenLookup(json(200, body), notFound)));
    const notStarted = await failure(g.start(startInput));
    expect(notStarted.code).toBe('PROVIDER_UNAVAILABLE');
    expect(notStarted).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(methods).toEqual(['POST', 'GET']);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    g = gatewayAt(await serve(json(200, body)));
    expect(await failure(g.start(startInput))).toBeInstanceOf(SendOutcomeUnknown);
  });

  it('a start answer without id, found by reference → that id', async () => {
    const found = json(200, { id: 'v-9', method: 'sms', status: 'PENDING', reference: 'r-1' });
    const g = gatewayAt(await serve(startThenLookup(json(200, { method: 'sms' }), found)));
    expect(await g.start(startInput)).toEqual({ id: 'v-9', locale: null }); // the language was in the lost answer
  });

  it('a lookup answer without id is unusable → SendOutcomeUnknown', async () => {
    const g = gatewayAt(await serve(startThenLookup((req) => req.socket.destroy(), json(200, { status: 'PENDING' }))));
    expect(await failure(g.start(startInput))).toBeInstanceOf(SendOutcomeUnknown);
  });

  it('a report answer without status → PROVIDER_UNAVAILABLE', async () => {
    const g = gatewayAt(await serve(json(200, { id: 'v-1', method: 'sms' })));
    expect((await failure(g.report({ id: 'v-1', method: 'sms', code: '1' }))).code).toBe('PROVIDER_UNAVAILABLE');
  });
});

describe('transport failures', () => {
  it('a server that never answers → the start is looked up by reference, which never answers either → SendOutcomeUnknown', async () => {
    const g = gatewayAt(await serve(() => undefined));
    const startedAt = Date.now();
    const error = await failure(g.start(startInput));
    expect(error).toBeInstanceOf(SendOutcomeUnknown);
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error.cause)).toContain('Sinch start: timed out; lookup by reference timed out');
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(methods).toEqual(['POST', 'GET']);
  });

  it('headers sent, then a body that never ends → timed out → looked up by reference', async () => {
    const endless: Handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    };
    let g = gatewayAt(await serve(endless));
    const error = await failure(g.start(startInput));
    expect(error).toBeInstanceOf(SendOutcomeUnknown);
    expect(String(error.cause)).toContain('timed out');
    await new Promise<void>((resolve) => {
      server!.close(() => resolve());
      server!.closeAllConnections();
    });
    g = gatewayAt(await serve(startThenLookup(endless, json(200, { id: 'v-7', method: 'sms', status: 'PENDING' }))));
    expect(await g.start(startInput)).toEqual({ id: 'v-7', locale: null });
  });

  it('a dropped start found DENIED by reference → mapped as a start answer (PHONE_NUMBER_NOT_ALLOWED)', async () => {
    const denied = json(200, { id: 'v-8', method: 'sms', status: 'DENIED', reason: 'Fraud' });
    const g = gatewayAt(await serve(startThenLookup((req) => req.socket.destroy(), denied)));
    const error = await failure(g.start(startInput));
    expect(error.code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    expect(error).not.toBeInstanceOf(SendOutcomeUnknown);
  });

  it('a destroyed socket → PROVIDER_UNAVAILABLE; a lost report is not retried, its status is asked once', async () => {
    const g = gatewayAt(await serve((req) => req.socket.destroy()));
    const error = await failure(g.report({ id: 'v-1', method: 'sms', code: '123456' }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error.cause)).toContain('connection failed; status check connection failed');
    expect(methods).toEqual(['PUT', 'GET']);
  });

  // Regression (attack review): a refused connection was taken for a start that may have gone
  // out (SendOutcomeUnknown), so each retry spent a send and met the cooldown.
  it('nothing listening → PROVIDER_UNAVAILABLE, surely not sent: no lookup, no SendOutcomeUnknown, for a start and a report', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const logs = captureLogger();
    const g = gatewayAt(url, logs);
    const start = await failure(g.start(startInput));
    expect(start.code).toBe('PROVIDER_UNAVAILABLE');
    expect(start).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(String(start.cause)).toContain('not sent: could not connect');
    expect(String(start.cause)).not.toContain('lookup');
    const report = await failure(g.report({ id: 'v-1', method: 'sms', code: '123456' }));
    expect(report.code).toBe('PROVIDER_UNAVAILABLE');
    expect(String(report.cause)).toContain('not sent: could not connect');
    expect(String(report.cause)).not.toContain('status check');
  });

  it('a host name that does not resolve → PROVIDER_UNAVAILABLE, surely not sent', async () => {
    const error = await failure(gatewayAt('http://sinch.invalid').start(startInput));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error).not.toBeInstanceOf(SendOutcomeUnknown);
    expect(String(error.cause)).toContain('not sent: could not connect');
  });
});
