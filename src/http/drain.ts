import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface DrainSettings {
  /** How long /readyz answers 503 `draining` while everything is still served, before the listener closes. */
  graceSeconds: number;
  /** How long requests in flight may take once the listener has closed; then their connections are cut. */
  timeoutSeconds: number;
}

/**
 * The HTTP side of an orderly stop, so that a replica leaving a load balancer loses no request:
 *
 * 1. Grace: /readyz answers 503 `draining` (the balancer takes the replica out) while every
 *    request is still served; each answer carries `Connection: close`, so keep-alive clients
 *    reconnect, through the balancer, elsewhere.
 * 2. The listener closes, and every connection without a request in flight with it. Requests in
 *    flight finish, up to the timeout; whatever is still running then is cut off (and logged).
 *
 * Only then may Apollo, the ORM and the database stop: nothing is left that needs them.
 */
export class HttpDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private readonly connections = new Set<Socket>();
  private state: 'serving' | 'draining' = 'serving';
  private graceSkipped = false;
  private endGrace?: () => void;

  /**
   * Call once the routes are in place: `serveHttp` replaces every 'request' listener, and this
   * one must run before the routes (a route may answer synchronously).
   */
  constructor(
    private readonly server: Server,
    private readonly settings: DrainSettings,
    private readonly logger: Logger,
  ) {
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) res.setHeader('connection', 'close');
      this.inFlight.add(res);
      res.once('close', () => this.inFlight.delete(res));
    });
    server.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
  }

  get draining(): boolean {
    return this.state === 'draining';
  }

  /** Ends the grace now (a second SIGTERM): the listener closes; requests in flight still finish. */
  skipGrace(): void {
    this.graceSkipped = true;
    this.endGrace?.();
  }

  async close(): Promise<void> {
    if (this.draining) return;
    this.state = 'draining';
    // Answers not yet begun close their connection too: the client's next request goes elsewhere.
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    const { graceSeconds, timeoutSeconds } = this.settings;
    if (graceSeconds > 0 && !this.graceSkipped) {
      this.logger.info({ graceSeconds }, `draining: /readyz answers 503 for ${graceSeconds} s, then the listener closes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceSeconds * 1000);
        this.endGrace = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Node's closeIdleConnections spares a connection on which nothing was ever sent (a
    // balancer's or a browser's spare one): it would hold the stop until a timeout. No request
    // has arrived on any connection without an answer pending: all of them go now.
    this.server.closeIdleConnections();
    const busy = new Set([...this.inFlight].map((res) => res.socket));
    for (const socket of this.connections) if (!busy.has(socket)) socket.destroy();
    if (this.inFlight.size > 0) this.logger.info({ requests: this.inFlight.size, timeoutSeconds }, 'listener closed: waiting for requests in flight');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed out'>((resolve) => {
      timer = setTimeout(() => resolve('timed out'), timeoutSeconds * 1000);
    });
    if ((await Promise.race([closed, timedOut])) === 'timed out') {
      this.logger.warn({ requests: this.inFlight.size, timeoutSeconds }, 'requests still in flight at SHUTDOWN_TIMEOUT_SECONDS: cutting them off');
      this.server.closeAllConnections();
      await closed;
    }
    clearTimeout(timer);
  }
}
