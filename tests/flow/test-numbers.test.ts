import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { LOGIN, REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { newUser, useTestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';

const clock = new TestClock();
// Two minutes of test numbers: a fictional US number and a real-looking UK mobile.
const until = new Date(clock.now().getTime() + 120_000).toISOString();

describe('test numbers (OTP_TEST_NUMBERS): a fixed code, never Sinch, every limit, until a date', () => {
  const t = useTestApp(
    {
      OTP_TEST_NUMBERS: '+15555550100=424242, +447400000077=135790, +447400000078=246801',
      OTP_TEST_NUMBERS_UNTIL: until,
      OTP_SENDS_PER_PHONE_PER_HOUR: '3',
    },
    { clock },
  );
  const startsAtSinch = () => t.app.emulator!.requests.filter((r) => r.method === 'POST').length;

  it('says at start-up how many test numbers are active, without listing them', () => {
    const line = t.logs.find((l) => l.includes('test numbers are active'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 40, testNumbers: 3 });
    expect(line).not.toContain('5555550100');
    expect(line).not.toContain('424242');
  });

  it('accepts a fictional test number at register, sends nothing to Sinch, and takes only the fixed code', async () => {
    const user = { ...newUser(), phoneNumber: '+1 555 555 0100' };
    const pending = (await t.gql(REGISTER, { input: user })).data!.register;
    expect(pending.channels).toEqual(['SMS', 'VOICE']);
    const before = startsAtSinch();
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: pending.pendingToken } })).errors).toBeUndefined();
    expect(startsAtSinch()).toBe(before);
    const wrong = await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: '424243' } });
    expect(wrong.errors![0].extensions).toMatchObject({ code: 'OTP_INVALID', attemptsRemaining: 4 });
    const right = await t.gql(VERIFY_OTP, { input: { pendingToken: pending.pendingToken, code: '424242' } });
    expect(right.data?.verifyOtp.user.phoneNumber).toBe('+15555550100');
  });

  it('still applies the cooldown and the per-number caps', async () => {
    const user = { ...newUser(), phoneNumber: '+447400000077' };
    const first = (await t.gql(REGISTER, { input: user })).data!.register.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: first } })).errors).toBeUndefined();
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: first } }))).toBe('RATE_LIMITED'); // cooldown
    const second = (await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).data!.login.pendingToken;
    const third = (await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).data!.login.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: second } })).errors).toBeUndefined();
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: third } })).errors).toBeUndefined();
    const fourth = (await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).data!.login.pendingToken;
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken: fourth } }))).toBe('RATE_LIMITED'); // 3 per hour
  });

  it('stops at the date: a code sent before is refused, the fictional number is refused, the real one goes to Sinch', async () => {
    const user = { ...newUser(), phoneNumber: '+447400000078' };
    const pendingToken = (await t.gql(REGISTER, { input: user })).data!.register.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    clock.advance(121); // past the date, still inside the code's 5 minutes
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken, code: '246801' } }))).toBe('OTP_EXPIRED');
    expect(codeOf(await t.gql(REGISTER, { input: { ...newUser(), phoneNumber: '+1 555 555 0100' } }))).toBe('PHONE_NUMBER_NOT_ALLOWED');

    const real = (await t.gql(REGISTER, { input: { ...newUser(), phoneNumber: '+447400000078' } })).data!.register.pendingToken;
    const before = startsAtSinch();
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: real } })).errors).toBeUndefined();
    expect(startsAtSinch()).toBe(before + 1);
    const sinchCode = t.codeFor('+447400000078');
    if (sinchCode !== '246801') expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: real, code: '246801' } }))).toBe('OTP_INVALID');
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken: real, code: sinchCode } })).errors).toBeUndefined();
  });
});
