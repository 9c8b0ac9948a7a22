import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeJson } from './io';

/**
 * A Sinch error answer: HTTP status plus Sinch's body `{ errorCode, message, reference }`.
 * Thrown anywhere in the emulator and written by the server; `errorCode` is a JSON number, as
 * Sinch's mock server and the Java SDK parser have it (the OAS's `string` is not what is sent).
 */
export class SinchApiFault extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SinchApiFault';
  }
}

export const invalidParameter = (message: string) => new SinchApiFault(400, 40001, message);
export const missingParameter = (message: string) => new SinchApiFault(400, 40002, message);
export const notFound = () => new SinchApiFault(404, 40400, 'Requested resource was not found.');

/** Which requests a fault applies to, by the Verification operation they are. */
export type FaultTarget = 'start' | 'report' | 'status' | 'any';

/**
 * What goes wrong. `latency` and `drop` (by default) let the request be handled first, as at a
 * slow or flaky real Sinch: the verification's state changes even though the client never sees
 * the answer in time. `http` and `malformed` answer instead of handling: nothing changes.
 */
export type FaultKind =
  | { kind: 'latency'; ms: number }
  | { kind: 'http'; status: number; errorCode?: number; message?: string; retryAfter?: string | number }
  | { kind: 'malformed' }
  /** Closes the socket without an answer; `afterHandling: false` drops before anything changes. */
  | { kind: 'drop'; afterHandling?: boolean }
  /**
   * Handles the request, then holds the answer until the test calls `releaseHeld()`: races are
   * ordered by the test, not by a real timer. `answer`: answers with that fault instead, once released.
   */
  | { kind: 'hold'; answer?: Exclude<FaultKind, { kind: 'hold' }> };

export type Fault = FaultKind & { on: FaultTarget };

/** POST starts, PUT reports, GET asks for a status: the emulator's routes are split that way. */
export function operationOf(method: string): Exclude<FaultTarget, 'any'> | undefined {
  return ({ POST: 'start', PUT: 'report', GET: 'status' } as const)[method as 'POST' | 'PUT' | 'GET'];
}

/** Faults waiting for matching requests, first injected first used. */
export class FaultQueue {
  private readonly armed: Array<{ fault: Fault; remaining: number }> = [];

  add(fault: Fault, times: number): void {
    if (!(times >= 1)) throw new RangeError(`times must be at least 1, got ${times}`);
    if (fault.kind === 'latency' && !(fault.ms >= 0)) throw new RangeError(`latency must be a number of ms, got ${fault.ms}`);
    this.armed.push({ fault, remaining: times });
  }

  /** The fault for this request, used up by one; undefined when none matches. */
  take(method: string): Fault | undefined {
    const operation = operationOf(method);
    const index = this.armed.findIndex(({ fault }) => fault.on === 'any' || fault.on === operation);
    if (index < 0) return undefined;
    const entry = this.armed[index];
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.armed.splice(index, 1);
    return entry.fault;
  }

  clear(): void {
    this.armed.length = 0;
  }
}

/** Answers (or drops) in place of the real handling, for the faults that do not handle first. */
export function writeFault(req: IncomingMessage, res: ServerResponse, fault: FaultKind): number | undefined {
  switch (fault.kind) {
    case 'http': {
      const body = { errorCode: fault.errorCode ?? fault.status * 100, message: fault.message ?? 'Injected fault.', reference: randomUUID() };
      writeJson(res, fault.status, body, fault.retryAfter === undefined ? undefined : { 'retry-after': String(fault.retryAfter) });
      return fault.status;
    }
    case 'malformed':
      // Cut off mid-object, as a proxy or a crashing server would leave it.
      writeJson(res, 200, '{"id":"');
      return 200;
    default:
      req.socket.destroy();
      return undefined;
  }
}

/** Whether the request is handled (state changes) before the fault shows. */
export function handlesFirst(fault: Fault): boolean {
  return fault.kind === 'latency' || fault.kind === 'hold' || (fault.kind === 'drop' && fault.afterHandling !== false);
}
