import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../logging/logger';
import { verifyRequestAuthorization, type AuthVerification } from '../signing';
import { type CallbackDelivery, CallbackSender } from './callbacks';
import { type Fault, FaultQueue, handlesFirst, invalidParameter, notFound, SinchApiFault, writeFault } from './faults';
import { readBody, writeJson } from './io';
import { VerificationLifecycle } from './lifecycle';
import { findRoute, type RouteAnswer } from './routes';
import { VerificationStore, type EmulatedVerification, type StoreEvent, type StoreSizes } from './store';
import type { RecordedRequest, RequestInterceptor, SinchEmulatorOptions } from './types';

export type { Fault, FaultKind, FaultTarget } from './faults';
export type { CallbackDelivery } from './callbacks';
export type { RecordedRequest, RequestInterceptor, SinchEmulatorOptions } from './types';

/**
 * What the emulator keeps is bounded (it runs as long as `npm start`): these last requests, the
 * verifications (store.ts: forgotten after they end or expire, with a cap) and the callbacks
 * (callbacks.ts: the newest few thousand plus unanswered ones). The rest grows only with
 * what a test asks for (faults, held answers, listeners, undeliverable numbers).
 */
const MAX_RECORDED = 1000;

/** A local Sinch Verification API over real HTTP, for development and conformance tests. */
export class SinchEmulator {
  /** Every request received, oldest first (the last 1000). */
  readonly requests: RecordedRequest[] = [];
  private readonly store: VerificationStore;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly listeners: Array<(event: StoreEvent) => void> = [];
  private readonly faults = new FaultQueue();
  private readonly lifecycle: VerificationLifecycle;
  private readonly sender: CallbackSender | undefined;
  /** Answers held by a `hold` fault, oldest first. */
  private readonly held: Array<() => void> = [];
  /** Answers held back by a latency fault; released at once on stop. */
  private readonly delayed = new Set<() => void>();
  private interceptor?: RequestInterceptor;
  private server?: Server;

  constructor(private readonly options: SinchEmulatorOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger.child({ component: 'sinch-emulator' });
    const generateCode = options.generateCode ?? (() => String(randomInt(0, 1_000_000)).padStart(6, '0'));
    this.store = new VerificationStore(this.clock, generateCode, (event) => this.emit(event));
    const { callbackUrl: url, callbackTimeoutMs: timeoutMs = 5000 } = options;
    this.sender = url ? new CallbackSender({ ...options, url, timeoutMs, clock: this.clock, logger: this.logger }) : undefined;
    this.lifecycle = new VerificationLifecycle(this.store, this.logger, this.sender);
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('Sinch emulator already started');
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const { port: bound } = server.address() as AddressInfo;
    const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    this.logger.info({ baseUrl, callbacks: this.options.callbackUrl !== undefined }, 'Sinch emulator listening');
    return baseUrl;
  }

  async stop(): Promise<void> {
    this.sender?.close();
    for (const release of this.delayed) release();
    this.releaseHeld(true);
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive connections (fetch pools them) would otherwise hold close() open.
      server.closeAllConnections();
    });
  }

  /** The application's key and secret, for tests that sign callbacks by hand as Sinch would. */
  get credentials(): { applicationKey: string; applicationSecret: string } {
    return { applicationKey: this.options.applicationKey, applicationSecret: this.options.applicationSecret };
  }

  /** The code (for a flash call: the caller id) of the newest verification for this number. */
  lastCodeFor(phoneNumber: string): string | undefined {
    return this.store.findLatest(phoneNumber)?.secret;
  }

  verification(id: string): EmulatedVerification | undefined {
    const found = this.store.get(id);
    return found && { ...found };
  }

  verifications(): EmulatedVerification[] {
    return this.store.all().map((verification) => ({ ...verification }));
  }

  /** The next `times` (default 1) requests matching `fault.on` meet this fault. */
  injectFault(fault: Fault, options: { times?: number } = {}): void {
    this.faults.add(fault, options.times ?? 1);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Answers held by a `hold` fault, waiting for `releaseHeld`. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Lets the oldest held answer (or all of them) go out. */
  releaseHeld(all = false): void {
    for (const release of this.held.splice(0, all ? this.held.length : 1)) release();
  }

  /** SMS to this number are reported undelivered: `Failed`, then ERROR / `SMS delivery failure`. */
  failDeliveryTo(phoneNumber: string): void {
    this.lifecycle.failDeliveryTo(phoneNumber);
  }

  /** Callbacks sent, oldest first, with the backend's answer once it came: the newest 2000 answered and any unanswered. */
  get callbacks(): readonly CallbackDelivery[] {
    return this.sender?.deliveries ?? [];
  }

  /** Resolves when every callback sent so far has been answered (or has failed). */
  async settled(): Promise<void> {
    await this.sender?.settled();
  }

  /** How much is kept, to check the bounds. */
  get stats(): StoreSizes & { callbacks: number; requests: number } {
    return { ...this.store.sizes, callbacks: this.callbacks.length, requests: this.requests.length };
  }

  /** Hook for one-off fault tricks; `undefined` removes it. */
  intercept(interceptor: RequestInterceptor | undefined): void {
    this.interceptor = interceptor;
  }

  /** Verification lifecycle events. */
  onEvent(listener: (event: StoreEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(event: StoreEvent): void {
    if (event.type === 'changed') this.lifecycle.changed(event.verification);
    for (const listener of this.listeners) listener(event);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    let received: { body: Buffer; tooLarge: boolean };
    try {
      received = await readBody(req);
    } catch {
      return; // The client went away mid-request: nobody to answer.
    }
    try {
      const { body, tooLarge } = received;
      const auth = this.authenticate(method, path, req.headers, body);
      const recorded: RecordedRequest = { method, path, headers: req.headers, rawBody: body, receivedAt: this.clock(), auth };
      this.record(recorded);
      if (this.interceptor && (await this.interceptor(recorded, res))) return;
      const fault = this.faults.take(method);
      recorded.fault = fault?.kind;
      if (fault && !handlesFirst(fault)) {
        recorded.responseStatus = writeFault(req, res, fault);
        return;
      }
      const answer = await this.answer(method, path, req.headers, body, tooLarge, auth);
      if (fault?.kind === 'latency') await this.delay(fault.ms);
      if (fault?.kind === 'hold') {
        await new Promise<void>((resolve) => this.held.push(resolve));
        if (fault.answer) {
          recorded.responseStatus = writeFault(req, res, fault.answer);
          return;
        }
      }
      if (fault?.kind === 'drop') req.socket.destroy();
      else if (writeJson(res, answer.status, answer.body, answer.headers)) recorded.responseStatus = answer.status;
      // The SMS goes out whether or not the client heard the answer.
      if (answer.started) this.lifecycle.delivered(answer.started);
    } catch (error) {
      this.logger.error({ err: error }, 'Sinch emulator failed on a request');
      writeJson(res, 500, { errorCode: 50000, message: 'Internal server error.', reference: randomUUID() });
    }
  }

  private authenticate(method: string, path: string, headers: IncomingHttpHeaders, rawBody: Buffer): AuthVerification {
    const { applicationKey, applicationSecret, maxTimestampSkewSeconds } = this.options;
    const allowBasic = this.options.allowBasic ?? true;
    return verifyRequestAuthorization({
      method,
      path,
      headers,
      rawBody,
      applicationKey,
      applicationSecret,
      allowBasic,
      maxTimestampSkewSeconds,
      now: this.clock,
    });
  }

  /** The real handling: Sinch's answer, an error answer included. */
  private async answer(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, tooLarge: boolean, auth: AuthVerification) {
    try {
      if (tooLarge) throw invalidParameter('Request body too large.');
      if (!auth.valid) {
        this.logger.warn({ method, errorCode: auth.errorCode }, `Sinch emulator refused a request: ${auth.message}`);
        throw new SinchApiFault(401, auth.errorCode, auth.message);
      }
      const found = findRoute(method, path);
      if (!found) throw notFound();
      const origin = `http://${headers.host ?? 'localhost'}`;
      const approve = (v: EmulatedVerification) => this.lifecycle.approve(v);
      const answer: RouteAnswer = await found.route.handle({ store: this.store, body, origin, now: this.clock(), headers, approve }, found.params);
      this.logger.debug({ route: found.route.name }, 'Sinch emulator answered 200');
      return { status: 200, ...answer };
    } catch (error) {
      if (!(error instanceof SinchApiFault)) throw error;
      return { status: error.httpStatus, body: { errorCode: error.errorCode, message: error.message, reference: randomUUID() }, started: undefined };
    }
  }

  /** Real time on purpose: a latency fault is there to run into a client's real timeout. */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.delayed.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.delayed.add(release);
    });
  }

  private record(request: RecordedRequest): void {
    this.requests.push(request);
    if (this.requests.length > MAX_RECORDED) this.requests.splice(0, this.requests.length - MAX_RECORDED);
  }
}
