import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../support/database';
import { codeOf } from '../support/graphql-client';
import { ME, REFRESH_SESSION } from '../support/operations';
import { type SignedIn, startTestApp, type TestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function newKey(type: 'ed25519' | 'ec' = 'ed25519') {
  const { privateKey, publicKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

async function jwksOf(t: TestApp): Promise<{ cacheControl: string | null; kids: string[] }> {
  const response = await fetch(new URL('/.well-known/jwks.json', t.app.url));
  const body = (await response.json()) as { keys: Array<{ kid: string; d?: string }> };
  expect(body.keys.every((key) => key.d === undefined)).toBe(true);
  return { cacheControl: response.headers.get('cache-control'), kids: body.keys.map((key) => key.kid) };
}

/**
 * Three key generations on one database, as an operator rotates them: each restart signs with a
 * new key and keeps the previous one as a verification key only.
 */
describe('key rotation across three generations', () => {
  const clock = new TestClock();
  const keys = [newKey(), newKey('ec'), newKey()];
  let database: Awaited<ReturnType<typeof createScratchDatabase>>;
  let t: TestApp | undefined;
  let gen1: SignedIn;
  let gen2: SignedIn;
  beforeAll(async () => {
    database = await createScratchDatabase();
  });
  afterAll(async () => {
    await t?.stop();
    await database.drop();
  });
  const restart = async (env: Record<string, string>) => {
    await t?.stop();
    t = await startTestApp(env, { database, clock });
    return t;
  };

  it('generation 1 signs with its key; the JWKS publishes it with a max-age', async () => {
    const app = await restart({ JWT_PRIVATE_KEY: keys[0].privatePem });
    gen1 = await app.signUp();
    const thumbprint = await calculateJwkThumbprint(await exportJWK(keys[0].publicKey));
    expect(decodeProtectedHeader(gen1.accessToken).kid).toBe(thumbprint);
    expect(await jwksOf(app)).toEqual({ cacheControl: 'public, max-age=300', kids: [thumbprint] });
  });

  it('generation 2 signs with a new key and still accepts generation 1 tokens (PEM verification key)', async () => {
    const app = await restart({ JWT_PRIVATE_KEY: keys[1].privatePem, JWT_VERIFICATION_KEYS: keys[0].publicPem });
    expect((await app.gql(ME, {}, bearer(gen1.accessToken))).data?.me.id).toBeTruthy();
    gen2 = await app.signIn(gen1.user);
    expect(decodeProtectedHeader(gen2.accessToken).alg).toBe('ES256');
    expect((await jwksOf(app)).kids).toEqual([decodeProtectedHeader(gen2.accessToken).kid, decodeProtectedHeader(gen1.accessToken).kid]);
  });

  it('generation 3 (a JWK with its own kid) accepts generation 2, refuses generation 1 whose key was removed', async () => {
    const ownKid = 'signing-2026-12';
    const jwk = { ...(await exportJWK(keys[2].privateKey)), kid: ownKid };
    const previous = [await exportJWK(keys[1].publicKey)];
    const app = await restart({ JWT_PRIVATE_KEY: JSON.stringify(jwk), JWT_VERIFICATION_KEYS: JSON.stringify(previous) });
    expect(codeOf(await app.gql(ME, {}, bearer(gen1.accessToken)))).toBe('UNAUTHENTICATED');
    expect((await app.gql(ME, {}, bearer(gen2.accessToken))).data?.me.id).toBeTruthy();
    // Sessions outlive keys: a refresh of the generation 1 session is signed with today's key.
    const refreshed = (await app.gql(REFRESH_SESSION, { input: { refreshToken: gen1.refreshToken } })).data!.refreshSession;
    expect(decodeProtectedHeader(refreshed.accessToken).kid).toBe(ownKid);
    expect(decodeJwt(refreshed.accessToken).sid).toBe(gen1.session.id);
    expect((await app.gql(ME, {}, bearer(refreshed.accessToken))).data?.me.id).toBeTruthy();
    expect((await jwksOf(app)).kids[0]).toBe(ownKid);
  });

  it('keeps a retired key’s tokens working only until they expire', async () => {
    clock.advance(15 * 60 + 1);
    expect(codeOf(await t!.gql(ME, {}, bearer(gen2.accessToken)))).toBe('UNAUTHENTICATED');
  });
});

describe('tokens signed by keys we do not know, or of the wrong shape', () => {
  const signing = newKey();
  let t: TestApp;
  let signedIn: SignedIn;
  beforeAll(async () => {
    t = await startTestApp({ JWT_PRIVATE_KEY: signing.privatePem });
    signedIn = await t.signUp();
  });
  afterAll(() => t?.stop());

  const me = (token: string) => t.gql(ME, {}, bearer(token));
  const claims = () => decodeJwt(signedIn.accessToken);
  const header = () => decodeProtectedHeader(signedIn.accessToken) as { alg: string; kid?: string; typ?: string };
  const sign = (key: KeyObject, h: Record<string, unknown>, c: Record<string, unknown>) =>
    new SignJWT(c).setProtectedHeader(h as { alg: string }).sign(key);

  it('accepts the token as issued (the forgeries below differ in one thing each)', async () => {
    expect((await me(await sign(signing.privateKey, header(), claims()))).data?.me.id).toBeTruthy();
  });

  it.each([
    ['an unknown kid', () => ({ ...header(), kid: 'someone-else' }), () => claims()],
    ['no kid', () => ({ alg: header().alg, typ: header().typ }), () => claims()],
    ['a sid that is not a uuid', () => header(), () => ({ ...claims(), sid: "1' or '1'='1" })],
    ['no sid', () => header(), () => ({ ...claims(), sid: undefined })],
    ['a sub that is not a uuid', () => header(), () => ({ ...claims(), sub: 'admin' })],
    ['an auth_time that is not a number', () => header(), () => ({ ...claims(), auth_time: 'yesterday' })],
    ['an amr that is not a list of strings', () => header(), () => ({ ...claims(), amr: [{ $ne: null }] })],
    ['an iat in the future', () => header(), () => ({ ...claims(), iat: Math.floor(Date.now() / 1000) + 3600 })],
    ['a sid of a session that does not exist', () => header(), () => ({ ...claims(), sid: '00000000-0000-4000-8000-000000000000' })],
  ])('refuses a well-signed token with %s', async (_name, makeHeader, makeClaims) => {
    const res = await me(await sign(signing.privateKey, makeHeader(), makeClaims()));
    expect(res.status).toBe(200);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed by another key under our kid', async () => {
    expect(codeOf(await me(await sign(newKey().privateKey, header(), claims())))).toBe('UNAUTHENTICATED');
  });
});
