import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../logging/logger';
import { maskPhone } from '../../phones/mask';
import { verifyRequestAuthorization, type AuthVerification } from '../signing';
import { invalidParameter, notFound, SinchApiFault } from './faults';
import { findRoute } from './routes';
import { VerificationStore, type EmulatedVerification, type StoreEvent } from './store';

export interface SinchEmulatorOptions {
  applicationKey: string;
  applicationSecret: string;
  logger: Logger;
  clock?: () => Date;
  /** Default: 6 random digits from crypto.randomInt. */
  generateCode?: () => string;
  /** Default true: accept `Basic` as well as signed requests (Sinch's per-app minimum level). */
  allowBasic?: boolean;
  /**
   * Refuse x-timestamps further than this from the emulator's clock (40101). Off by default:
   * Sinch's limit is unconfirmed, and tests move the emulator's clock on its own.
   */
  maxTimestampSkewSeconds?: number;
}

export interface RecordedRequest {
  method: string;
  /** As received: literal `+` kept, no query string. */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  receivedAt: Date;
  auth: AuthVerification;
  /** The status the emulator answered; absent while in flight or when an interceptor took over. */
  responseStatus?: number;
}

/**
 * Runs before authentication and routing. Return true once it has answered (or destroyed the
 * socket) to take the request over. The point where fault injection plugs in.
 */
export type RequestInterceptor = (request: RecordedRequest, response: ServerResponse) => boolean | Promise<boolean>;

const MAX_BODY_BYTES = 64 * 1024;
const MAX_RECORDED = 1000;

/** A local Sinch Verification API over real HTTP, for development and conformance tests. */
export class SinchEmulator {
  /** Every request received, oldest first (the last 1000). */
  readonly requests: RecordedRequest[] = [];
  private readonly store: VerificationStore;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly listeners: Array<(event: StoreEvent) => void> = [];
  private interceptor?: RequestInterceptor;
  private server?: Server;

  constructor(private readonly options: SinchEmulatorOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger.child({ component: 'sinch-emulator' });
    const generateCode = options.generateCode ?? (() => String(randomInt(0, 1_000_000)).padStart(6, '0'));
    this.store = new VerificationStore(this.clock, generateCode, (event) => this.emit(event));
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
    this.logger.info({ baseUrl }, 'Sinch emulator listening');
    return baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive connections (fetch pools them) would otherwise hold close() open.
      server.closeAllConnections();
    });
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

  /** Hook for fault injection; `undefined` removes it. */
  intercept(interceptor: RequestInterceptor | undefined): void {
    this.interceptor = interceptor;
  }

  /** Verification lifecycle events: the point where signed callbacks will plug in. */
  onEvent(listener: (event: StoreEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(event: StoreEvent): void {
    if (event.type === 'started') this.logCode(event.verification);
    for (const listener of this.listeners) listener(event);
  }

  /** The only line in the product that shows a code: the emulator is how a developer receives it. */
  private logCode(v: Readonly<EmulatedVerification>): void {
    const phone = maskPhone(v.endpoint);
    const what = {
      sms: `SMS code ${v.secret} for ${phone}`,
      whatsapp: `WhatsApp code ${v.secret} for ${phone}`,
      callout: `voice call code ${v.secret} for ${phone}`,
      flashcall: `flash call from ${v.secret} to ${phone}`,
    }[v.method];
    this.logger.info({ verificationId: v.id, method: v.method }, `Sinch emulator: ${what} (verification ${v.id})`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    let recorded: RecordedRequest | undefined;
    let received: { body: Buffer; tooLarge: boolean };
    try {
      received = await readBody(req);
    } catch {
      return; // The client went away mid-request: nobody to answer.
    }
    const { body, tooLarge } = received;
    try {
      const auth = verifyRequestAuthorization({
        method,
        path,
        headers: req.headers,
        rawBody: body,
        applicationKey: this.options.applicationKey,
        applicationSecret: this.options.applicationSecret,
        allowBasic: this.options.allowBasic ?? true,
        maxTimestampSkewSeconds: this.options.maxTimestampSkewSeconds,
        now: this.clock,
      });
      recorded = { method, path, headers: req.headers, rawBody: body, receivedAt: this.clock(), auth };
      this.record(recorded);
      if (this.interceptor && (await this.interceptor(recorded, res))) return;

      if (tooLarge) throw invalidParameter('Request body too large.');
      if (!auth.valid) {
        this.logger.warn({ method, errorCode: auth.errorCode }, `Sinch emulator refused a request: ${auth.message}`);
        throw new SinchApiFault(401, auth.errorCode, auth.message);
      }
      const found = findRoute(method, path);
      if (!found) throw notFound();
      const origin = `http://${req.headers.host ?? 'localhost'}`;
      const answer = found.route.handle({ store: this.store, body, origin, now: this.clock(), headers: req.headers }, found.params);
      this.logger.debug({ route: found.route.name }, 'Sinch emulator answered 200');
      this.send(res, 200, answer.body, answer.headers, recorded);
    } catch (error) {
      if (!(error instanceof SinchApiFault)) this.logger.error({ err: error }, 'Sinch emulator failed on a request');
      const fault = error instanceof SinchApiFault ? error : new SinchApiFault(500, 50000, 'Internal server error.');
      const errorBody = { errorCode: fault.errorCode, message: fault.message, reference: randomUUID() };
      if (!res.headersSent && !res.destroyed) this.send(res, fault.httpStatus, errorBody, undefined, recorded);
    }
  }

  private send(res: ServerResponse, status: number, body: object, headers: Record<string, string> | undefined, recorded?: RecordedRequest) {
    if (recorded) recorded.responseStatus = status;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  private record(request: RecordedRequest): void {
    this.requests.push(request);
    if (this.requests.length > MAX_RECORDED) this.requests.splice(0, this.requests.length - MAX_RECORDED);
  }
}

/** Reads the whole body; past the limit it keeps draining (so the reply can be sent) but drops bytes. */
async function readBody(req: IncomingMessage): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), tooLarge: size > MAX_BODY_BYTES };
}
