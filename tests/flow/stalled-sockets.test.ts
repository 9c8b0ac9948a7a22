import { readdirSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/test-app';
import { until } from '../support/until';

/** Open descriptors of this process (the service runs in it): the kernel's own count. */
const openDescriptors = () => readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('stalled connections are closed and their descriptors freed', () => {
  // Short timeouts so the test waits about a second of real time (README: tests that wait for real time).
  const t = useTestApp({ HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '500', HTTP_IDLE_TIMEOUT_MS: '600' });

  it('closes a few hundred sockets that never send, dribble, half-close or never read, and answers 408 where it can', async () => {
    const port = Number(new URL(t.app.url).port);
    await fetch(new URL('/healthz', t.app.url)); // warm: the service's own pools are open
    const before = openDescriptors();
    const sockets: net.Socket[] = [];
    const answers: string[] = [];
    const open = (onConnect: (socket: net.Socket) => void) => {
      const socket = net.connect(port, '127.0.0.1', () => onConnect(socket));
      socket.on('data', (chunk) => answers.push(chunk.toString('latin1').split('\r\n')[0]));
      socket.on('error', () => undefined);
      sockets.push(socket);
    };
    for (let i = 0; i < 80; i++) open(() => undefined); // connects, never sends
    for (let i = 0; i < 80; i++) open((s) => s.write('POST /graphql HTTP/1.1\r\nHost: x\r\n')); // headers never finish
    for (let i = 0; i < 80; i++)
      open((s) => s.write('POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"q')); // body never finishes
    for (let i = 0; i < 60; i++) open((s) => s.end()); // half-closes at once
    for (let i = 0; i < 20; i++) {
      // sends a request, then never reads (paused) and never closes
      open((s) => {
        s.pause();
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      });
    }
    // Both ends of each socket live in this process: 320 client ends, and the service's ends, once
    // it has accepted them (polled: a fixed 150 ms was too short for a loaded CI machine, 376 of 430).
    await until(() => openDescriptors() > before + 400, 'the stalled sockets open at both ends', 5_000);
    await sleep(3000); // about four times the longest timeout: slack for a loaded machine
    // The service has closed every one of its ends, though no client end was closed by the test.
    expect(openDescriptors()).toBeLessThanOrEqual(before + sockets.length + 5);
    for (const s of sockets) s.destroy();
    await sleep(100);
    expect(openDescriptors()).toBeLessThanOrEqual(before + 5);
    expect(answers.filter((line) => line.startsWith('HTTP/1.1 408')).length).toBeGreaterThanOrEqual(80);
    expect(answers.some((line) => line.startsWith('HTTP/1.1 5'))).toBe(false);
  });
});
