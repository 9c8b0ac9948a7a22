import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { LOGIN, REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { newUser, useTestApp } from '../support/test-app';

describe('logs, even at debug level', () => {
  const t = useTestApp({ LOG_LEVEL: 'debug' });

  it('carry the request id on every line written while serving it, services and Sinch included', async () => {
    const user = newUser();
    const registered = await t.gql(REGISTER, { input: user });
    const pendingToken = registered.data!.register.pendingToken;
    await t.gql(REQUEST_OTP, { input: { pendingToken } }, { 'x-request-id': 'trace-42' });
    const lines = t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.requestId === 'trace-42');
    const messages = lines.map((entry) => entry.msg);
    expect(messages).toEqual(expect.arrayContaining(['Sinch verification started', 'code sent', 'request']));
  });

  // Regression: Apollo's variable-coercion messages (which quote the input) were logged at debug.
  it('never contain a password, a code or a token, and keep the error code readable', async () => {
    const user = newUser();
    const registered = await t.gql(REGISTER, { input: user });
    const pendingToken = registered.data!.register.pendingToken;
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    const code = t.codeFor(user.phoneNumber);
    await t.gql(LOGIN, { input: { email: user.email, password: user.password, extra: 1 } });
    await t.gql(VERIFY_OTP, { input: { pendingToken, code: Number(code), extra: 1 } });
    const refused = await t.gql(VERIFY_OTP, { input: { pendingToken, code: '0000000' } });
    expect(codeOf(refused)).toBe('OTP_INVALID');
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code } });

    const emulatorLines = t.logs.filter((line) => line.includes('Sinch emulator: SMS code'));
    const serviceLog = t.logs.filter((line) => !emulatorLines.includes(line)).join('\n');
    for (const secret of [user.password, pendingToken, verified.data!.verifyOtp.accessToken, code, user.phoneNumber.slice(1)]) {
      expect(serviceLog).not.toContain(secret);
    }
    expect(serviceLog).toContain('"errorCode":"OTP_INVALID"');
  });

  // Regression: JavaScript and PostgreSQL lowercase İ differently; login must match register.
  it('lets a user whose email has a dotted capital I log in', async () => {
    const user = { ...newUser(), email: `İnci.${Date.now()}@example.com` };
    expect((await t.gql(REGISTER, { input: user })).errors).toBeUndefined();
    expect((await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).errors).toBeUndefined();
  });
});
