import { decodeJwt, decodeProtectedHeader, createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { queryDatabase } from '../support/database';
import { LOGIN, ME, REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { loginPending, newUser, useTestApp } from '../support/test-app';

describe('register → requestOtp → verifyOtp → me', () => {
  const t = useTestApp();

  it('runs the whole flow over HTTP and issues a JWT that the JWKS verifies', async () => {
    const user = { ...newUser(), phoneNumber: '07400 123456', country: 'gb' };
    const registered = await t.gql(REGISTER, { input: user });
    expect(registered.errors).toBeUndefined();
    const pending = registered.data!.register;
    expect(pending.phoneNumberHint).toBe('+44 ********56');
    expect(pending.channels).toEqual(['SMS', 'VOICE']);
    expect(new Date(pending.expiresAt).getTime() - t.clock.now().getTime()).toBeCloseTo(600_000, -4);

    const dispatched = await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } });
    expect(dispatched.errors).toBeUndefined();
    expect(dispatched.data!.requestOtp).toMatchObject({ channel: 'SMS', attemptsRemaining: 5 });
    const dispatch = dispatched.data!.requestOtp;
    expect(new Date(dispatch.resendAvailableAt).getTime() - t.clock.now().getTime()).toBe(30_000);
    expect(new Date(dispatch.expiresAt).getTime() - t.clock.now().getTime()).toBe(300_000);

    const code = t.codeFor('+447400123456');
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code } });
    expect(verified.errors).toBeUndefined();
    const payload = verified.data!.verifyOtp;
    expect(payload.tokenType).toBe('Bearer');
    expect(payload.user).toMatchObject({ email: user.email, phoneNumber: '+447400123456', phoneVerified: true });

    const jwks = await fetch(new URL('/.well-known/jwks.json', t.app.url)).then((r) => r.json() as Promise<{ keys: Array<Record<string, string>> }>);
    const { payload: claims } = await jwtVerify(payload.accessToken, createLocalJWKSet(jwks), {
      currentDate: t.clock.now(),
      typ: 'at+jwt',
    });
    expect(claims).toMatchObject({ sub: payload.user.id, amr: ['pwd', 'sms'] });
    expect(claims.iss).toBeTruthy();
    expect(claims.aud).toBeTruthy();
    expect(claims.jti).toBeTruthy();
    expect((claims.exp! - claims.iat!) / 60).toBe(15);
    expect(decodeProtectedHeader(payload.accessToken).kid).toBe(jwks.keys[0].kid);

    const me = await t.gql(ME, {}, { authorization: `Bearer ${payload.accessToken}` });
    expect(me.data!.me).toEqual(payload.user);
  });

  it('logs in again with a voice call and gets amr ["pwd","tel"]', async () => {
    const { user } = await t.signUp();
    const login = await t.gql(LOGIN, { input: { email: user.email.toUpperCase(), password: user.password } });
    expect(login.errors).toBeUndefined();
    const pendingToken = login.data!.login.pendingToken;
    const dispatched = await t.gql(REQUEST_OTP, { input: { pendingToken, channel: 'VOICE' } });
    expect(dispatched.data!.requestOtp.channel).toBe('VOICE');
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
    expect(decodeJwt(verified.data!.verifyOtp.accessToken).amr).toEqual(['pwd', 'tel']);
  });

  it('keeps the first verification time, and a later sign-in writes no new version of the user row', async () => {
    const { user } = await t.signUp();
    const userRow = () =>
      queryDatabase<{ version: string; verifiedAt: Date; updatedAt: Date }>(
        t.databaseUrl,
        'select xmin::text as version, phone_verified_at as "verifiedAt", updated_at as "updatedAt" from app_user where email = $1',
        [user.email],
      ).then((rows) => rows[0]);
    const first = await userRow();
    expect(first.verifiedAt).toBeInstanceOf(Date);
    t.clock.advance(60_000);
    const pendingToken = await loginPending(t.gql, user);
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
    expect(verified.data!.verifyOtp.user.phoneVerified).toBe(true);
    expect(await userRow()).toEqual(first);
  });

  it('answers me without a token with UNAUTHENTICATED', async () => {
    const me = await t.gql(ME);
    expect(codeOf(me)).toBe('UNAUTHENTICATED');
  });

  it('serves health, readiness and 404', async () => {
    const base = new URL(t.app.url);
    expect((await fetch(new URL('/healthz', base))).status).toBe(200);
    expect((await fetch(new URL('/readyz', base))).status).toBe(200);
    expect((await fetch(new URL('/nope', base))).status).toBe(404);
  });
});
