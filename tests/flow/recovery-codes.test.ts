import { decodeJwt } from 'jose';
import { queryDatabase } from '../support/database';
import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import { ME_WITH_RECOVERY, REAUTHENTICATE, REGENERATE_RECOVERY_CODES, REQUEST_OTP, VERIFY_OTP, VERIFY_RECOVERY_CODE } from '../support/operations';
import { loginPending, type SignedIn, useTestApp } from '../support/test-app';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const FORMAT = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

describe('recovery codes: the way back in when the phone is lost', () => {
  const t = useTestApp();
  const regenerate = async (s: SignedIn): Promise<string[]> => {
    const res = await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(s.accessToken));
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.regenerateRecoveryCodes.codes;
  };
  const spendCode = (pendingToken: string, recoveryCode: string) => t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken, recoveryCode } });
  const remaining = async (token: string) => (await t.gql(ME_WITH_RECOVERY, {}, bearer(token))).data!.me.recoveryCodesRemaining;

  it('gives 10 distinct codes in typeable groups, shown once and stored only as hashes', async () => {
    const s = await t.signUp();
    expect(await remaining(s.accessToken)).toBe(0);
    const codes = await regenerate(s);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
    expect(await remaining(s.accessToken)).toBe(10);
    const rows = await queryDatabase(t.databaseUrl, 'select code_hash from recovery_code');
    const stored = JSON.stringify(rows);
    for (const code of codes) {
      expect(stored).not.toContain(code);
      expect(stored).not.toContain(code.replace(/-/g, ''));
    }
  });

  it('signs in with a code instead of an SMS, amr ["pwd","otp"]; each code works once', async () => {
    const s = await t.signUp();
    const codes = await regenerate(s);
    const pendingToken = await loginPending(t.gql, s.user);
    // As a person types it: lower case, spaces, O for 0 and l for 1.
    const typed = codes[0].toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    const res = await spendCode(pendingToken, typed);
    expect(res.errors).toBeUndefined();
    const payload = res.data!.verifyRecoveryCode;
    expect(payload.session).toMatchObject({ amr: ['pwd', 'otp'], current: true });
    expect(decodeJwt(payload.accessToken).amr).toEqual(['pwd', 'otp']);
    expect(payload.session.id).not.toBe(s.session.id);
    expect(await remaining(payload.accessToken)).toBe(9);

    const again = await spendCode(await loginPending(t.gql, s.user), codes[0]);
    expect(again.errors![0].extensions).toMatchObject({ code: 'OTP_INVALID', attemptsRemaining: 4 });
  });

  it('lets exactly one of two racing uses of the same code win', async () => {
    const s = await t.signUp();
    const [code] = await regenerate(s);
    const tokens = [await loginPending(t.gql, s.user), await loginPending(t.gql, s.user)];
    const answers = await Promise.all(tokens.map((token) => spendCode(token, code)));
    expect(answers.map((a) => codeOf(a) ?? 'ok').sort()).toEqual(['OTP_INVALID', 'ok']);
    expect(await remaining(s.accessToken)).toBe(9);
  });

  it('voids the old set when a new one is made', async () => {
    const s = await t.signUp();
    const old = await regenerate(s);
    const fresh = await regenerate(s);
    expect(fresh.some((c) => old.includes(c))).toBe(false);
    expect(codeOf(await spendCode(await loginPending(t.gql, s.user), old[0]))).toBe('OTP_INVALID');
    expect((await spendCode(await loginPending(t.gql, s.user), fresh[0])).errors).toBeUndefined();
  });

  it('lets the last code sign in, then says none are left', async () => {
    const s = await t.signUp();
    const codes = await regenerate(s);
    let last: any;
    for (const code of codes) {
      const res = await spendCode(await loginPending(t.gql, s.user), code);
      expect(res.errors).toBeUndefined();
      last = res.data!.verifyRecoveryCode;
    }
    expect(await remaining(last.accessToken)).toBe(0);
  });

  it('steps up with a recovery code (the lost-phone path: sign in with one, step up with another)', async () => {
    const s = await t.signUp();
    const codes = await regenerate(s);
    const signedIn = (await spendCode(await loginPending(t.gql, s.user), codes[0])).data!.verifyRecoveryCode;
    t.clock.advance(700);
    const pending = (await t.gql(REAUTHENTICATE, {}, bearer(signedIn.accessToken))).data!.reauthenticate;
    const up = (await spendCode(pending.pendingToken, codes[1])).data!.verifyRecoveryCode;
    expect(up.session.id).toBe(signedIn.session.id);
    expect(Date.parse(up.session.authenticatedAt)).toBe(t.clock.now().getTime());
    expect((await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(up.accessToken))).errors).toBeUndefined();
  });

  it('does not mark the phone verified when a recovery code signs in', async () => {
    const s = await t.signUp();
    const codes = await regenerate(s);
    await queryDatabase(t.databaseUrl, 'update app_user set phone_verified_at = null where email = $1', [s.user.email]);
    const signedIn = (await spendCode(await loginPending(t.gql, s.user), codes[0])).data!.verifyRecoveryCode;
    expect(signedIn.user.phoneVerified).toBe(false);
  });

  it('refuses malformed codes without spending an attempt or changing anything', async () => {
    const s = await t.signUp();
    const codes = await regenerate(s);
    const pendingToken = await loginPending(t.gql, s.user);
    const before = await snapshotDatabase(t.databaseUrl);
    for (const bad of ['', 'short', `${codes[0]}X`, codes[0].replace(/.$/, 'U'), '\u0000'.repeat(16), '😀'.repeat(16), 'a'.repeat(10_000)]) {
      const res = await spendCode(pendingToken, bad);
      expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'recoveryCode' });
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect((await spendCode(pendingToken, codes[0])).errors).toBeUndefined();
  });
});

describe('wrong recovery codes spend the same budgets as wrong SMS codes', () => {
  const t = useTestApp({ OTP_WRONG_CODES_PER_USER_PER_HOUR: '7' });
  const WRONG = '0000-0000-0000-0000';

  it('five per pending token, then the token is dead; the user budget counts across tokens and SMS codes', async () => {
    const s = await t.signUp();
    const [code] = (await t.gql(REGENERATE_RECOVERY_CODES, {}, bearer(s.accessToken))).data!.regenerateRecoveryCodes.codes;
    const first = await loginPending(t.gql, s.user);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(codeOf(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: first, recoveryCode: WRONG } })));
    expect(answers).toEqual([...Array(4).fill('OTP_INVALID'), 'OTP_ATTEMPTS_EXCEEDED']);
    expect(codeOf(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: first, recoveryCode: code } }))).toBe('OTP_ATTEMPTS_EXCEEDED');

    // Two more wrong guesses (one SMS code, one recovery code) use up the user's 7.
    const second = await loginPending(t.gql, s.user);
    await t.gql(REQUEST_OTP, { input: { pendingToken: second } });
    const sms = t.codeFor(s.user.phoneNumber);
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: second, code: sms === '000000' ? '111111' : '000000' } }))).toBe('OTP_INVALID');
    expect(codeOf(await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: second, recoveryCode: WRONG } }))).toBe('OTP_INVALID');
    const spent = await t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: second, recoveryCode: code } });
    expect(spent.errors![0].extensions).toMatchObject({ code: 'OTP_ATTEMPTS_EXCEEDED' });
    expect(spent.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
  });
});
