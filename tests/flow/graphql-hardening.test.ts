import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, type GraphQLResponse } from '../support/graphql-client';
import { startTestApp, type TestApp, useTestApp } from '../support/test-app';

function expectRefused(res: GraphQLResponse, code: string, message: RegExp): void {
  expect(res.status).toBe(400);
  expect(codeOf(res)).toBe(code);
  expect(res.errors![0].message).toMatch(message);
  expect(res.data ?? undefined).toBeUndefined();
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: await response.text() };
}

describe('GraphQL hardening', () => {
  const t = useTestApp({ GRAPHQL_MAX_DEPTH: '2' });

  const login = (alias: string) => `${alias}: login(input: {email: "x@example.com", password: "password1"}) { pendingToken }`;

  it('refuses a document deeper than GRAPHQL_MAX_DEPTH', async () => {
    const res = await t.gql('mutation { verifyOtp(input: {pendingToken: "x", code: "123456"}) { user { id } } }');
    expectRefused(res, 'GRAPHQL_VALIDATION_FAILED', /depth/i);
  });

  it('refuses more aliases than GRAPHQL_MAX_ALIASES (10), before any resolver runs', async () => {
    const res = await t.gql(`mutation { ${Array.from({ length: 11 }, (_, i) => login(`a${i}`)).join(' ')} }`);
    expectRefused(res, 'GRAPHQL_VALIDATION_FAILED', /alias/i);
  });

  it('counts aliases of __typename like any other (attack probe: 50 of them passed)', async () => {
    const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ');
    expectRefused(await t.gql(`{ ${aliases(11)} }`), 'GRAPHQL_VALIDATION_FAILED', /alias/i);
    expect((await t.gql(`{ ${aliases(10)} }`)).errors).toBeUndefined();
  });

  it('answers 415 to a compressed body (Content-Encoding), and runs nothing', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    for (const encoding of ['gzip', 'deflate', 'br', 'foo']) {
      const res = await post(t.app.url, body, { 'content-encoding': encoding });
      expect(res.status, encoding).toBe(415);
      expect(JSON.parse(res.body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
    }
    expect((await post(t.app.url, body, { 'content-encoding': 'identity' })).status).toBe(200);
  });

  it('answers 405 with Allow to other methods than GET and HEAD on /healthz, /readyz and the JWKS', async () => {
    for (const path of ['/healthz', '/readyz', '/.well-known/jwks.json']) {
      const url = new URL(path, t.app.url);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetch(url, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
      expect((await fetch(url)).status, path).toBe(200);
      expect((await fetch(url, { method: 'HEAD' })).status, path).toBe(200);
    }
  });

  it('refuses a document of more than GRAPHQL_MAX_TOKENS tokens at parse time', async () => {
    expectRefused(await t.gql(`{ ${'__typename '.repeat(1500)}}`), 'GRAPHQL_PARSE_FAILED', /token/i);
  });

  it('refuses batched requests', async () => {
    const res = await post(t.app.url, JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/batch/i);
  });

  it('refuses a simple-content-type POST (CSRF prevention)', async () => {
    const res = await post(t.app.url, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/CSRF|preflight/i);
  });

  it('answers 413 to a body over MAX_BODY_BYTES and 400 to malformed JSON', async () => {
    const huge = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(70_000) } });
    expect((await post(t.app.url, huge)).status).toBe(413);
    const broken = await post(t.app.url, '{"query": ');
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it("keeps GraphQL's own directives beside the rate-limit ones: @include and @skip select by variables", async () => {
    const picked = await t.gql(
      'query ($yes: Boolean!, $no: Boolean!) { a: __typename @include(if: $yes) b: __typename @skip(if: $yes) c: __typename @include(if: $no) }',
      {
        yes: true,
        no: false,
      },
    );
    expect(picked).toMatchObject({ data: { a: 'Query' } });
    expect(picked.errors).toBeUndefined();
    expect(Object.keys(picked.data ?? {})).toEqual(['a']);
    // A field left out is not resolved: `me` would answer UNAUTHENTICATED without a bearer.
    const skipped = await t.gql('query ($signedIn: Boolean!) { __typename me @include(if: $signedIn) { id } }', { signedIn: false });
    expect(skipped).toMatchObject({ data: { __typename: 'Query' } });
    expect(skipped.errors).toBeUndefined();
    expect(codeOf(await t.gql('query ($signedIn: Boolean!) { me @include(if: $signedIn) { id } }', { signedIn: true }))).toBe('UNAUTHENTICATED');
  });

  it('offers introspection and the Sandbox landing page outside production', async () => {
    expect((await t.gql('{ __schema { queryType { name } } }')).data).toBeTruthy();
    const page = await fetch(t.app.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/sandbox/i);
  });
});

describe('GraphQL hardening in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    t = await startTestApp({
      NODE_ENV: 'production',
      SINCH_APPLICATION_KEY: 'k',
      SINCH_APPLICATION_SECRET: 'c2VjcmV0',
      JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
  });
  afterAll(() => t?.stop());

  it('turns introspection, field suggestions and the landing page off', async () => {
    const introspection = await t.gql('{ __schema { queryType { name } } }');
    expect(codeOf(introspection)).toBe('GRAPHQL_VALIDATION_FAILED');
    const typo = await t.gql('{ mee { id } }');
    expect(typo.errors![0].message).not.toMatch(/did you mean/i);
    const enumTypo = await t.gql('mutation { requestOtp(input: {pendingToken: "x", channel: SM}) { channel } }');
    expect(codeOf(enumTypo)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(enumTypo.errors![0].message).not.toMatch(/did you mean|SMS/i);
    const page = await fetch(t.app.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/sandbox/i);
  });
});
