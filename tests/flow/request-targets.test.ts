import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { requestTarget } from '../../src/http/server';
import { useTestApp } from '../support/test-app';

/** One raw HTTP/1.1 request, as an attacker would type it: the status line of the answer. */
function rawRequest(port: number, target: string, method = 'GET'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${method} ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('close', () => resolve(data.split('\r\n')[0]));
    socket.on('error', reject);
  });
}

describe('no request target answers 500', () => {
  const t = useTestApp();

  // Regression: `new URL('//a:b@', base)` reads a host and throws, and every such target answered 500.
  it.each([
    '//',
    '///',
    '//a:b@',
    '//a:b@/graphql',
    '//[::1',
    '//a%00b/',
    '/%',
    '/graphql?x=%zz',
    '*',
    'http://evil/graphql',
    'http://[::1',
    '\\\\x',
  ])('answers %j with a 4xx or a route', async (target) => {
    const status = await rawRequest(Number(new URL(t.app.url).port), target);
    expect(status).toMatch(/^HTTP\/1\.1 [1-4]\d\d /);
    expect(t.logs.filter((line) => line.includes('"level":50'))).toEqual([]);
  });

  it('keeps the target as sent: no host read out of `//`, no dot segments resolved', () => {
    expect(requestTarget('//evil.example/graphql?x=1')).toEqual({ pathname: '//evil.example/graphql', search: '?x=1' });
    expect(requestTarget('/graphql/../healthz')).toEqual({ pathname: '/graphql/../healthz', search: '' });
    expect(requestTarget('http://host:4000/graphql?a')).toEqual({ pathname: '/graphql', search: '?a' });
    expect(requestTarget('*')).toBeUndefined();
  });

  it('refuses a subscription with a contract code, not a 500', async () => {
    const res = await t.gql('subscription { me { id } }');
    expect(res.status).toBeLessThan(500);
    expect(['GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST']).toContain(res.errors?.[0]?.extensions?.code);
  });
});
