import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import {
  AUTH_EVENTS,
  LOGIN,
  ME,
  REAUTHENTICATE,
  REGENERATE_RECOVERY_CODES,
  REQUEST_OTP,
  START_PHONE_NUMBER_CHANGE,
  VERIFY_OTP,
  VERIFY_RECOVERY_CODE,
} from '../support/operations';
import { newUser, type SignedIn, useTestApp } from '../support/test-app';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
let counter = 0;
/** A fresh valid UK mobile number (+44 7401 …: every suffix is a mobile), never one of newUser()'s (+44 7400 …). */
const freshNumber = () =>
  `+447401${String((process.pid % 1000) * 1000 + ++counter)
    .padStart(6, '0')
    .slice(-6)}`;

describe('phone number change: codes go to the new number, which switches when one comes back', () => {
  const t = useTestApp();
  const start = (s: SignedIn, phoneNumber: string, country?: string) =>
    t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber, country } }, bearer(s.accessToken));
  const me = async (s: SignedIn) => (await t.gql(ME, {}, bearer(s.accessToken))).data!.me;

  it('sends to the new number, shows the old one until confirmed, then switches it with a new pair for the same session', async () => {
    const s = await t.signUp();
    const target = freshNumber();
    const pending = (await start(s, target)).data!.startPhoneNumberChange;
    expect(pending.phoneNumberHint).toBe(`+44 ********${target.slice(-2)}`);
    expect(pending.channels).toEqual(['SMS', 'VOICE']);
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } })).errors).toBeUndefined();
    expect(t.app.emulator!.lastCodeFor(target)).toBeTruthy();
    expect((await me(s)).phoneNumber).toBe(s.user.phoneNumber);

    const right = t.codeFor(target);
    const wrong = right === '000000' ? '111111' : '000000';
    const refused = await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: wrong } });
    expect(refused.errors![0].extensions).toMatchObject({ code: 'OTP_INVALID', attemptsRemaining: 4 });
    expect((await me(s)).phoneNumber).toBe(s.user.phoneNumber);

    const done = await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: right } });
    expect(done.errors).toBeUndefined();
    const payload = done.data!.verifyOtp;
    expect(payload.user).toMatchObject({ phoneNumber: target, phoneVerified: true });
    expect(payload.session.id).toBe(s.session.id);
    expect(decodeJwt(payload.accessToken).sid).toBe(s.session.id);
    expect((await me(s)).phoneNumber).toBe(target);

    // One audit event, with both numbers masked.
    const events = (await t.gql(AUTH_EVENTS, { first: 5 }, bearer(payload.accessToken))).data!.authEvents.edges;
    const changed = events.find((e: any) => e.node.type === 'PHONE_NUMBER_CHANGED').node;
    expect(changed.detail).toBe(`+44 ********${s.user.phoneNumber.slice(-2)} → +44 ********${target.slice(-2)}`);
    expect(JSON.stringify(events)).not.toContain(target);

    // The next sign-in sends its code to the new number.
    const login = (await t.gql(LOGIN, { input: { email: s.user.email, password: s.user.password } })).data!.login;
    expect(login.phoneNumberHint.slice(-2)).toBe(target.slice(-2));
  });

  it('makes a code sent to the old number useless on the change', async () => {
    const s = await t.signUp();
    const target = freshNumber();
    const change = (await start(s, target)).data!.startPhoneNumberChange;
    await t.gql(REQUEST_OTP, { input: { pendingToken: change.pendingToken } });
    const stepUp = (await t.gql(REAUTHENTICATE, {}, bearer(s.accessToken))).data!.reauthenticate;
    await t.gql(REQUEST_OTP, { input: { pendingToken: stepUp.pendingToken } });
    const oldNumberCode = t.codeFor(s.user.phoneNumber);
    if (oldNumberCode !== t.codeFor(target)) {
      expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: change.pendingToken, code: oldNumberCode } }))).toBe('OTP_INVALID');
    }
    expect((await me(s)).phoneNumber).toBe(s.user.phoneNumber);
  });

  it('refuses the same number, and numbers we do not send to, changing nothing', async () => {
    const s = await t.signUp();
    const before = await snapshotDatabase(t.databaseUrl);
    const same = await start(s, s.user.phoneNumber.replace('+44', '0'), 'GB');
    expect(same.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'phoneNumber' });
    for (const refused of ['+44 909 879 0000', '+44 56 1234 5678', '+1 800 555 0100', '+881 6 1234 5678']) {
      expect(codeOf(await start(s, refused))).toBe('PHONE_NUMBER_NOT_ALLOWED');
    }
    for (const bad of ['', 'not a number', '\u0000', 'a'.repeat(10_000)]) {
      expect(['BAD_USER_INPUT', 'PHONE_NUMBER_NOT_ALLOWED']).toContain(codeOf(await start(s, bad)));
    }
    expect(codeOf(await start(s, freshNumber(), 'ZZ'))).toBe('BAD_USER_INPUT');
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  it('lets a second change replace the first: the first pending token stops working', async () => {
    const s = await t.signUp();
    const first = (await start(s, freshNumber())).data!.startPhoneNumberChange;
    const second = (await start(s, freshNumber())).data!.startPhoneNumberChange;
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: first.pendingToken } }))).toBe('UNAUTHENTICATED');
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: second.pendingToken } })).errors).toBeUndefined();
  });

  it('never takes a recovery code on a phone change: UNAUTHENTICATED, no attempt spent', async () => {
    const s = await t.signUp();
    const codes = (await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(s.accessToken))).data!.regenerateRecoveryCodes.codes;
    const target = freshNumber();
    const change = (await start(s, target)).data!.startPhoneNumberChange;
    const before = await snapshotDatabase(t.databaseUrl);
    expect(codeOf(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: change.pendingToken, recoveryCode: codes[0] } }))).toBe(
      'UNAUTHENTICATED',
    );
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    await t.gql(REQUEST_OTP, { input: { pendingToken: change.pendingToken } });
    const wrong = t.codeFor(target) === '000000' ? '111111' : '000000';
    const first = await t.gql(VERIFY_OTP, { input: { pendingToken: change.pendingToken, code: wrong } });
    expect(first.errors![0].extensions!.attemptsRemaining).toBe(4);
  });

  it('needs the step-up when the change starts, not when it completes', async () => {
    const s = await t.signUp();
    t.clock.advance(300);
    const target = freshNumber();
    const change = (await start(s, target)).data!.startPhoneNumberChange;
    await t.gql(REQUEST_OTP, { input: { pendingToken: change.pendingToken } });
    t.clock.advance(310); // the step-up window (600 s from sign-in) is over; the pending token (600 s from the start) is not
    expect(codeOf(await start(s, freshNumber()))).toBe('REAUTHENTICATION_REQUIRED');
    // The refused second start replaced nothing: the first change completes.
    await t.gql(REQUEST_OTP, { input: { pendingToken: change.pendingToken } });
    const done = await t.gql(VERIFY_OTP, { input: { pendingToken: change.pendingToken, code: t.codeFor(target) } });
    expect(done.data?.verifyOtp.user.phoneNumber).toBe(target);
  });
});

describe('phone number change obeys the send limits of any number', () => {
  const t = useTestApp({ OTP_SENDS_PER_PHONE_PER_HOUR: '2', OTP_MAX_SENDS_PER_TOKEN: '3', OTP_RESEND_COOLDOWN_SECONDS: '0' });

  it('counts sends to the new number per number, whatever account asks', async () => {
    const target = freshNumber();
    const a = await t.signUp();
    const b = await t.signUp({ ...newUser() });
    const send = async (s: SignedIn) => {
      const change = (await t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber: target } }, bearer(s.accessToken))).data!.startPhoneNumberChange;
      return codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: change.pendingToken } }));
    };
    expect([await send(a), await send(b), await send(a)]).toEqual([undefined, undefined, 'RATE_LIMITED']);
  });
});
