import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpDrain } from '../../src/http/drain';

/** The drain on a bare node:http server whose /slow answers only when the test says so. */
describe('HttpDrain', () => {
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.closeAllConnections();
  });

  async function serve(timeoutSeconds = 60) {
    const held: Array<() => void> = [];
    const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/slow') held.push(() => res.end('slow done'));
      else res.end('fast');
    });
    servers.push(server);
    const drain = new HttpDrain(server, { graceSeconds: 0, timeoutSeconds }, pino({ level: 'silent' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { server, drain, port, held };
  }

  it('lets the request in flight finish, tells its client to close, and closes silent connections at once', async () => {
    const { drain, port, held } = await serve();
    const silent = net.connect(port, '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise((resolve) => silent.once('close', resolve));

    const answer = request(port, '/slow');
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    let closed = false;
    const closing = drain.close().then(() => (closed = true));

    // A connection on which no request ever arrived does not hold the stop up.
    await silentClosed;
    expect(closed).toBe(false);
    held[0]();
    expect(await answer).toEqual({ status: 200, body: 'slow done', connection: 'close' });
    await closing;
  });

  it('cuts off what is still running at the timeout', async () => {
    const { drain, port, held } = await serve(1);
    const answer = request(port, '/slow').catch((error: Error) => error);
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await drain.close();
    expect(await answer).toBeInstanceOf(Error);
  });
});

function request(port: number, path: string): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ port, host: '127.0.0.1', path, agent: new http.Agent({ keepAlive: true }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
