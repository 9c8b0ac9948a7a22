import { generateKeyPairSync } from 'node:crypto';
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { LOGIN, ME, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { loginPending, startTestApp, type TestApp } from '../support/test-app';

describe('tokens: kinds, forgeries and expiry', () => {
  let t: TestApp;
  let accessToken: string;
  let pendingToken: string;
  beforeAll(async () => {
    t = await startTestApp();
    const signedUp = await t.signUp();
    accessToken = signedUp.accessToken;
    pendingToken = await loginPending(t.gql, signedUp.user);
  });
  afterAll(() => t?.stop());

  const me = (token: string) => t.gql(ME, {}, { authorization: `Bearer ${token}` });
  const request = (token: string) => t.gql(REQUEST_OTP, { input: { pendingToken: token } });

  // Regression: the header came from Apollo's cache-control plugin; turning the plugin off dropped it.
  it('answers with Cache-Control: no-store, a sign-in that hands out tokens and a refusal alike', async () => {
    const post = (query: string, variables: object) =>
      fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const signedUp = await t.signUp();
    const login = await post(LOGIN, { input: { email: signedUp.user.email, password: signedUp.user.password } });
    const body = (await login.json()) as { data: { login: { pendingToken: string } } };
    expect(body.data.login.pendingToken).toEqual(expect.any(String));
    expect(login.headers.get('cache-control')).toBe('no-store');
    const refused = await post(REQUEST_OTP, { input: { pendingToken: 'not-a-token' } });
    expect(refused.headers.get('cache-control')).toBe('no-store');
  });

  it('tells the kinds apart by typ and audience', () => {
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    expect(decodeProtectedHeader(pendingToken).typ).not.toBe('at+jwt');
    expect(decodeJwt(pendingToken).aud).not.toEqual(decodeJwt(accessToken).aud);
  });

  it('refuses an access token where a pending token is expected, and the reverse', async () => {
    expect(codeOf(await request(accessToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: accessToken, code: '123456' } }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await me(pendingToken))).toBe('UNAUTHENTICATED');
  });

  // The last character of a 64-byte signature carries 4 bits and 2 that must be zero: the same
  // bytes with its lowest bit set (a lenient decoder reads them the same).
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const STRAY_BIT: Record<string, string> = Object.fromEntries([...ALPHABET].map((c, i) => [c, ALPHABET[i ^ 1]]));

  function forge(token: string, header: object, claims: object = {}): string {
    const [, payload] = token.split('.');
    const body = { ...JSON.parse(Buffer.from(payload, 'base64url').toString()), ...claims };
    return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(body))}.`;
  }

  it.each([
    ['alg none', (tok: string) => forge(tok, { alg: 'none', typ: decodeProtectedHeader(tok).typ })],
    ['truncated', (tok: string) => tok.slice(0, -10)],
    ['signature of another token', (tok: string) => tok.split('.').slice(0, 2).join('.') + '.' + 'A'.repeat(86)],
    ['padded signature', (tok: string) => `${tok}==`],
    ['stray bit in the last character', (tok: string) => tok.slice(0, -1) + STRAY_BIT[tok.at(-1)!]],
    ['empty', () => ''],
    ['garbage', () => 'not.a.jwt'],
    ['huge', () => 'a'.repeat(12_000)],
  ])('refuses a %s token on every operation', async (_name, make) => {
    expect(codeOf(await me(make(accessToken)))).toBe('UNAUTHENTICATED');
    expect(codeOf(await request(make(pendingToken)))).toBe('UNAUTHENTICATED');
  });

  it('refuses tokens re-signed with another key, even with our kid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const resign = (tok: string) => new SignJWT(decodeJwt(tok)).setProtectedHeader(decodeProtectedHeader(tok) as { alg: string }).sign(privateKey);
    expect(codeOf(await me(await resign(accessToken)))).toBe('UNAUTHENTICATED');
    expect(codeOf(await request(await resign(pendingToken)))).toBe('UNAUTHENTICATED');
  });

  it('answers an oversized Authorization header with a JSON 431', async () => {
    const res = await me('a'.repeat(100_000));
    expect(res.status).toBe(431);
    expect(codeOf(res)).toBe('BAD_REQUEST');
  });

  it('refuses a bearer header in another scheme', async () => {
    expect(codeOf(await t.gql(ME, {}, { authorization: `Basic ${accessToken}` }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(ME, {}, { authorization: accessToken }))).toBe('UNAUTHENTICATED');
  });

  it('expires access tokens after 15 minutes', async () => {
    expect((await me(accessToken)).data?.me).toBeTruthy();
    t.clock.advance(15 * 60 + 1);
    expect(codeOf(await me(accessToken))).toBe('UNAUTHENTICATED');
  });
});
