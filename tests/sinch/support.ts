import { AppError } from '../../src/errors/app-error';
import { expect } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../../src/logging/logger';
import type { ProviderEvents, ProviderMethod } from '../../src/otp/otp-provider';
import type { CallbackRequest, SinchCallbackHandler } from '../../src/sinch/callbacks';

/** A real pino logger whose lines are kept, to assert on what was (and was not) logged. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines, text: () => lines.map((line) => JSON.stringify(line)).join('\n') };
}

/** A clock tests move by hand; never sleep to pass time. */
export function manualClock(start = '2026-01-15T10:00:00.000Z') {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    advance(seconds: number) {
      now = new Date(now.getTime() + seconds * 1000);
    },
  };
}

export const APP_KEY = '5f5c418a-0f91-4bbc-8234-a9bf5eddad97';
export const APP_SECRET = 'JViE5vDor0Sw3WllZka15Q==';

/** A fake `ProviderEvents` that records every call; `allow` and `failWith` steer its answers. */
export class RecordingEvents implements ProviderEvents {
  readonly calls: Array<{ name: 'mayStart' | 'deliveryFailed'; input: object }> = [];
  allow = true;
  failWith?: Error;

  async mayStart(input: { reference: string; phoneNumber: string; method: ProviderMethod }): Promise<boolean> {
    this.calls.push({ name: 'mayStart', input });
    if (this.failWith) throw this.failWith;
    return this.allow;
  }

  async deliveryFailed(input: { reference?: string; verificationId: string }): Promise<void> {
    this.calls.push({ name: 'deliveryFailed', input });
    if (this.failWith) throw this.failWith;
  }
}

/** A real HTTP endpoint in front of a callback handler, as the service's server would be. */
export async function serveCallbacks(handle: SinchCallbackHandler, path = '/sinch/callbacks') {
  const received: CallbackRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const request = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], headers: req.headers, rawBody: Buffer.concat(chunks) };
    received.push(request);
    const reply = await handle(request);
    if (reply.body === undefined) res.writeHead(reply.status).end();
    else res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The AppError a call rejected with (fails the test when it resolved or threw something else). */
export async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}
