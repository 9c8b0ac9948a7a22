import { afterEach, describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import { REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { loginPending, useTestApp } from '../support/test-app';

/**
 * A slow or dead Sinch, injected in the emulator: the flow answers the right code each time,
 * leaves the challenge usable, and recovers once Sinch is back.
 */
describe('Sinch outages during the flow', () => {
  const t = useTestApp({ SINCH_TIMEOUT_MS: '200', SINCH_BREAKER_FAILURES: '3', SINCH_BREAKER_OPEN_SECONDS: '1' });
  // Held answers (a Sinch that never answers in time) go out once the test is done with them.
  afterEach(() => t.app.emulator!.releaseHeld(true));

  async function pendingWithCode() {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    return { user, pendingToken };
  }

  it('a report that times out is settled by asking Sinch for the status: the right code still logs in', async () => {
    const { user, pendingToken } = await pendingWithCode();
    t.app.emulator!.injectFault({ on: 'report', kind: 'hold' });
    const res = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.verifyOtp.user.phoneVerified).toBe(true);
  });

  it('a start that times out is found by its reference: the code that went out is the one that works', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    t.app.emulator!.injectFault({ on: 'start', kind: 'hold' });
    const sent = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(sent.errors).toBeUndefined();
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  it('a start that never reached Sinch answers PROVIDER_UNAVAILABLE and the same token sends again at once', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    t.app.emulator!.injectFault({ on: 'start', kind: 'drop', afterHandling: false });
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('PROVIDER_UNAVAILABLE');
    const again = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(again.errors).toBeUndefined();
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  // Regression: a start that timed out was refunded everywhere although the SMS went out, so a
  // script could pump SMS to one number during any slow stretch.
  it('a start whose fate Sinch cannot tell keeps its send counted: no pumping through timeouts', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    t.app.emulator!.injectFault({ on: 'start', kind: 'hold' });
    t.app.emulator!.injectFault({ on: 'status', kind: 'hold' });
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('PROVIDER_UNAVAILABLE');
    const resend = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(codeOf(resend)).toBe('RATE_LIMITED'); // the cooldown of the send that may have gone out
  });

  it.each([
    ['a 5xx', { kind: 'http', status: 503, retryAfter: 12 }, 'PROVIDER_UNAVAILABLE'],
    ['a 429 / 42901', { kind: 'http', status: 429, errorCode: 42901 }, 'RATE_LIMITED'],
    ['a 401 on our credentials', { kind: 'http', status: 401, errorCode: 40102 }, 'PROVIDER_UNAVAILABLE'],
    ['a dropped connection', { kind: 'drop', afterHandling: false }, 'PROVIDER_UNAVAILABLE'],
    ['malformed JSON', { kind: 'malformed' }, 'PROVIDER_UNAVAILABLE'],
  ] as const)('%s on report answers %s, uses no attempt and leaves the token working', async (_name, fault, code) => {
    const { user, pendingToken } = await pendingWithCode();
    t.app.emulator!.injectFault({ on: 'report', ...fault } as never);
    const failed = await t.gql(VERIFY_OTP, { input: { pendingToken, code: '0000000' } });
    expect(codeOf(failed)).toBe(code);
    const wrong = await t.gql(VERIFY_OTP, { input: { pendingToken, code: '0000000' } });
    expect(wrong.errors![0].extensions!.attemptsRemaining).toBe(4);
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  it('a dead Sinch opens the breaker: fail fast with retryAfterSeconds, nothing changed, then recovery', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    const before = await snapshotDatabase(t.databaseUrl);
    t.app.emulator!.injectFault({ on: 'start', kind: 'http', status: 500 }, { times: 3 });
    for (let i = 0; i < 3; i++) expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('PROVIDER_UNAVAILABLE');
    const startsSoFar = t.app.emulator!.requests.length;
    const fast = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(codeOf(fast)).toBe('PROVIDER_UNAVAILABLE');
    expect(fast.errors![0].extensions!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(t.app.emulator!.requests.length).toBe(startsSoFar); // not even sent
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    expect(t.logs.filter((line) => line.includes('Sinch circuit breaker opened'))).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, 1100)); // the breaker runs on real time
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });
});
