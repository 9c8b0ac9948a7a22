import { describe, expect, it } from 'vitest';
import { ME } from '../support/operations';
import { useTestApp } from '../support/test-app';

const REQUIRED_HEADERS = ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'];

/** What a browser does before a cross-origin POST with a JSON body or an Authorization header. */
function preflight(url: string, origin: string) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
  });
}

function post(url: string, origin: string) {
  return fetch(url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: ME }) });
}

describe('CORS in development: any localhost port and the hosted Apollo Sandbox', () => {
  const t = useTestApp();

  it.each(['http://localhost:5173', 'http://127.0.0.1:8080', 'https://studio.apollographql.com'])(
    'answers the preflight from %s with 204 and what it may send',
    async (origin) => {
      const res = await preflight(t.app.url, origin);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST');
      const allowed = res.headers.get('access-control-allow-headers')!.split(/,\s*/);
      expect(allowed).toEqual(expect.arrayContaining(REQUIRED_HEADERS));
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toContain('Origin');

      const answer = await post(t.app.url, origin);
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
      expect(((await answer.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    },
  );

  it.each([
    'https://evil.example',
    'http://localhost.evil.example:5173',
    'null',
    'http://localhost:99999',
    'http://localhost:0',
    'http://localhost:05173',
  ])('gives %s no Access-Control-Allow-Origin', async (origin) => {
    const res = await preflight(t.app.url, origin);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
    expect((await post(t.app.url, origin)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets any page read the public keys', async () => {
    const res = await fetch(new URL('/.well-known/jwks.json', t.app.url), { headers: { origin: 'https://other.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('CORS with CORS_ORIGINS set', () => {
  const t = useTestApp({ CORS_ORIGINS: 'https://app.example.com' });

  it('allows the listed origins only', async () => {
    expect((await preflight(t.app.url, 'https://app.example.com')).headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect((await preflight(t.app.url, 'http://localhost:5173')).headers.get('access-control-allow-origin')).toBeNull();
  });
});
