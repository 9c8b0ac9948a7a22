import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../src/sinch/emulator/server';
import { codeOf } from '../support/graphql-client';
import { REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { loginPending, useTestApp } from '../support/test-app';

type Fault = (res: ServerResponse) => void;

const FAULTS: Record<string, { fault: Fault; code: string }> = {
  '503': {
    fault: (res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"errorCode":50300,"message":"down"}'),
    code: 'PROVIDER_UNAVAILABLE',
  },
  '429': {
    fault: (res) =>
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' }).end('{"errorCode":42900,"message":"Request capacity exceeded"}'),
    code: 'RATE_LIMITED',
  },
  'malformed JSON': { fault: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":'), code: 'PROVIDER_UNAVAILABLE' },
  'dropped connection': { fault: (res) => res.socket?.destroy(), code: 'PROVIDER_UNAVAILABLE' },
};

/**
 * The provider failing must never cost the user: a failed send starts no cooldown and uses no
 * send, a check that did not happen uses no attempt, and the same pending token works after.
 */
describe('Sinch faults during the flow', () => {
  const t = useTestApp();
  afterEach(() => t.app.emulator!.intercept(undefined));

  /** Fails the next request matching `method` once, then lets requests through. */
  function failNext(method: 'POST' | 'PUT', fault: Fault): void {
    let armed = true;
    t.app.emulator!.intercept((request: RecordedRequest, res) => {
      if (!armed || request.method !== method) return false;
      armed = false;
      fault(res);
      return true;
    });
  }

  // Regression: a failed send kept its cooldown (the release read the already-refreshed challenge).
  it.each(Object.entries(FAULTS))('a send failing with %s answers its code and costs nothing', async (_name, { fault, code }) => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    failNext('POST', fault);
    const failed = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(codeOf(failed)).toBe(code);
    if (code === 'RATE_LIMITED') expect(failed.errors![0].extensions!.retryAfterSeconds).toBe(7);
    // No cooldown and no send used: three sends still possible, the first one right now.
    for (let i = 0; i < 3; i++) {
      expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
      t.clock.advance(30);
    }
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('RATE_LIMITED');
  });

  it.each(Object.entries(FAULTS))('a check failing with %s answers its code and uses no attempt', async (_name, { fault, code }) => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    failNext('PUT', fault);
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken, code: '0000000' } }))).toBe(code);
    const wrong = await t.gql(VERIFY_OTP, { input: { pendingToken, code: '0000000' } });
    expect(wrong.errors![0].extensions!.attemptsRemaining).toBe(4);
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  it('a number Sinch denies as fraud answers PHONE_NUMBER_NOT_ALLOWED', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    failNext('POST', (res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"x1","method":"sms","status":"DENIED","reason":"Fraud"}'),
    );
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('PHONE_NUMBER_NOT_ALLOWED');
  });

  it('a code whose verification Sinch aborted (a newer login sent another) answers OTP_EXPIRED', async () => {
    const { user } = await t.signUp();
    const first = await loginPending(t.gql, user);
    await t.gql(REQUEST_OTP, { input: { pendingToken: first } });
    const firstCode = t.codeFor(user.phoneNumber);
    const second = await loginPending(t.gql, user);
    await t.gql(REQUEST_OTP, { input: { pendingToken: second } });
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken: first, code: firstCode } }))).toBe('OTP_EXPIRED');
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken: second, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });
});
