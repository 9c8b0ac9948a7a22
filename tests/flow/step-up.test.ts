import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import {
  LOGOUT,
  ME,
  REAUTHENTICATE,
  REFRESH_SESSION,
  REGENERATE_RECOVERY_CODES,
  REQUEST_OTP,
  SESSIONS,
  START_PHONE_NUMBER_CHANGE,
  VERIFY_OTP,
} from '../support/operations';
import { type SignedIn, useTestApp } from '../support/test-app';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('step-up: reauthenticate proves the second factor again in the same session', () => {
  const t = useTestApp();
  const refresh = (token: string) => t.gql(REFRESH_SESSION, { input: { refreshToken: token } });

  async function stepUp(s: SignedIn) {
    const pending = (await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken))).data!.reauthenticate;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken, channel: 'VOICE' } })).errors).toBeUndefined();
    return t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: t.codeFor(s.user.phoneNumber) } });
  }

  it('needs a second factor within the window for account changes: fresh after sign-in, required again after 10 minutes', async () => {
    const s = await t.signUp();
    expect((await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(s.accessToken))).errors).toBeUndefined();
    t.clock.advance(601);
    for (const [query, variables] of [
      [REGENERATE_RECOVERY_CODES, {}],
      [START_PHONE_NUMBER_CHANGE, { input: { phoneNumber: '+44 7400 999111' } }],
    ] as const) {
      expect(codeOf(await t.gql(query, variables, bearer(s.accessToken)))).toBe('REAUTHENTICATION_REQUIRED');
    }
  });

  it('answers an AuthPayload of the same session with authenticatedAt now; the old refresh token is used up as by a refresh', async () => {
    const s = await t.signUp();
    t.clock.advance(700);
    const refreshed = (await refresh(s.refreshToken)).data!.refreshSession; // a live access token, auth_time unchanged
    expect(decodeJwt(refreshed.accessToken).auth_time).toBe(decodeJwt(s.accessToken).auth_time);
    expect(codeOf(await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(refreshed.accessToken)))).toBe('REAUTHENTICATION_REQUIRED');

    const res = await stepUp({ ...refreshed, user: s.user });
    expect(res.errors).toBeUndefined();
    const up = res.data!.verifyOtp;
    expect(up.session).toMatchObject({ id: s.session.id, current: true, amr: ['pwd', 'tel'] });
    expect(Date.parse(up.session.authenticatedAt)).toBe(t.clock.now().getTime());
    expect(decodeJwt(up.accessToken)).toMatchObject({
      sid: s.session.id,
      auth_time: Math.floor(t.clock.now().getTime() / 1000),
      amr: ['pwd', 'tel'],
    });
    // No new session; the account change now works, with the new token and with the earlier one alike.
    expect((await t.gql(SESSIONS, {}, bearer(up.accessToken))).data!.sessions).toHaveLength(1);
    expect((await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(refreshed.accessToken))).errors).toBeUndefined();
    // The refresh token held before the step-up: within the grace period a pair, after it the session ends.
    expect((await refresh(refreshed.refreshToken)).errors).toBeUndefined();
    t.clock.advance(31);
    expect(codeOf(await refresh(refreshed.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(ME, {}, bearer(up.accessToken)))).toBe('UNAUTHENTICATED');
  });

  it('keeps earlier access tokens at their old auth_time', async () => {
    const s = await t.signUp();
    t.clock.advance(60);
    const up = (await stepUp(s)).data!.verifyOtp;
    expect(decodeJwt(s.accessToken).auth_time).toBeLessThan(decodeJwt(up.accessToken).auth_time as number);
    expect((await t.gql(ME, {}, bearer(s.accessToken))).data?.me).toBeTruthy();
  });

  it('refuses a step-up pending token once its session has ended, and never lets it begin a session', async () => {
    const s = await t.signUp();
    const pending = (await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken))).data!.reauthenticate;
    await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } });
    const code = t.codeFor(s.user.phoneNumber);
    expect((await t.gql(LOGOUT, {}, bearer(s.accessToken))).data?.logout).toBe(true);
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code } }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } }))).toBe('UNAUTHENTICATED');
  });

  it('lets a sign-in meanwhile cancel nothing, and keeps the step-up in its own session', async () => {
    const s = await t.signUp();
    const pending = (await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken))).data!.reauthenticate;
    const other = await t.signIn(s.user);
    await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } });
    const up = (await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: t.codeFor(s.user.phoneNumber) } })).data!.verifyOtp;
    expect(up.session.id).toBe(s.session.id);
    expect(up.session.id).not.toBe(other.session.id);
  });

  it('applies the wrong-code budget of a sign-in: five wrong codes kill the step-up token', async () => {
    const s = await t.signUp();
    const pending = (await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken))).data!.reauthenticate;
    await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } });
    const right = t.codeFor(s.user.phoneNumber);
    const wrong = right === '000000' ? '111111' : '000000';
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: wrong } })));
    expect(answers).toEqual([...Array(4).fill('OTP_INVALID'), 'OTP_ATTEMPTS_EXCEEDED']);
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: right } }))).toBe('OTP_ATTEMPTS_EXCEEDED');
    // The session itself is not harmed.
    expect((await t.gql(ME, {}, bearer(s.accessToken))).data?.me).toBeTruthy();
  });
});
