import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedAuthorization } from '../../src/sinch/signing';
import { snapshotDatabase } from '../support/db-snapshot';
import { codeOf } from '../support/graphql-client';
import { REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { newUser, startTestApp, type TestApp } from '../support/test-app';

const OTP_STATUS = `query($t: String!) { otpStatus(pendingToken: $t) { deliveryFailed resendAvailableAt voiceAvailableAt attemptsRemaining } }`;

/** Sinch's callbacks, sent for real by the emulator and, for forgeries, by hand. */
describe('Sinch callbacks', () => {
  let t: TestApp;
  let callbackUrl: string;
  beforeAll(async () => {
    t = await startTestApp();
    callbackUrl = new URL('/sinch/callbacks', t.app.url).toString();
  });
  afterAll(() => t?.stop());

  async function registered(phoneNumber?: string) {
    const user = { ...newUser(), ...(phoneNumber ? { phoneNumber } : {}) };
    const res = await t.gql(REGISTER, { input: user });
    return { user, pendingToken: res.data!.register.pendingToken as string };
  }

  it('allows each of our sends through the request event, signed both ways', async () => {
    const { user, pendingToken } = await registered();
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    await t.app.emulator!.settled();
    const events = t.app.emulator!.callbacks.filter((c) => c.rawBody.includes(user.phoneNumber));
    expect(events.map((c) => [c.event, c.status, c.reply ?? ''])).toEqual([
      ['VerificationRequestEvent', 200, '{"action":"allow"}'],
      ['VerificationSmsDeliveredEvent', 200, ''],
    ]);
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  it('lets the client switch to a voice call at once when the SMS is reported undelivered', async () => {
    const { user, pendingToken } = await registered();
    t.app.emulator!.failDeliveryTo(user.phoneNumber);
    const sent = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    // The cooldown, unless the emulator's delivery report already came in while the answer was on its way.
    expect(new Date(sent.data!.requestOtp.voiceAvailableAt).getTime()).toBeLessThanOrEqual(t.clock.now().getTime() + 30_000);
    await t.app.emulator!.settled();

    const status = (await t.gql(OTP_STATUS, { t: pendingToken })).data!.otpStatus;
    expect(status.deliveryFailed).toBe(true);
    expect(new Date(status.voiceAvailableAt).getTime()).toBeLessThanOrEqual(t.clock.now().getTime());
    const voice = await t.gql(REQUEST_OTP, { input: { pendingToken, channel: 'VOICE' } });
    expect(voice.errors).toBeUndefined();
    expect((await t.gql(OTP_STATUS, { t: pendingToken })).data!.otpStatus.deliveryFailed).toBe(false);
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });

  it('keeps the cooldown when the SMS was delivered, and says when voice is possible', async () => {
    const { pendingToken } = await registered();
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    await t.app.emulator!.settled();
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken, channel: 'VOICE' } }))).toBe('RATE_LIMITED');
    const status = (await t.gql(OTP_STATUS, { t: pendingToken })).data!.otpStatus;
    expect(status).toMatchObject({ deliveryFailed: false, attemptsRemaining: 5 });
    expect(new Date(status.voiceAvailableAt).getTime()).toBe(t.clock.now().getTime() + 30_000);
  });

  it('offers voice to a landline and says when no send is left', async () => {
    const { pendingToken } = await registered('+442079460124');
    for (let i = 0; i < 2; i++) {
      const sent = await t.gql(REQUEST_OTP, { input: { pendingToken, channel: 'VOICE' } });
      expect(sent.data!.requestOtp.voiceAvailableAt).toBeTruthy();
      t.clock.advance(30);
    }
    const last = await t.gql(REQUEST_OTP, { input: { pendingToken, channel: 'VOICE' } });
    expect(last.data!.requestOtp.voiceAvailableAt).toBeNull();
  });

  /** A request event as Sinch would send it, signed with `key`/`secret` (ours unless forged). */
  async function postEvent(body: object, options: { secret?: string; key?: string; timestamp?: string; path?: string } = {}) {
    const raw = JSON.stringify(body);
    const timestamp = options.timestamp ?? t.clock.now().toISOString();
    const credentials = t.app.emulator!.credentials;
    const authorization = signedAuthorization({
      method: 'POST',
      path: options.path ?? '/sinch/callbacks',
      contentType: 'application/json; charset=utf-8',
      timestamp,
      body: raw,
      applicationKey: options.key ?? credentials.applicationKey,
      applicationSecret: options.secret ?? credentials.applicationSecret,
    });
    const response = await fetch(callbackUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-timestamp': timestamp,
        authorization: authorization.replace('Application', 'application'),
      },
      body: raw,
    });
    return { status: response.status, body: await response.text() };
  }

  it('refuses unsigned, forged, stale and replayed callbacks with 401 and changes nothing', async () => {
    const { user, pendingToken } = await registered();
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    await t.app.emulator!.settled();
    const before = await snapshotDatabase(t.databaseUrl);
    const delivered = t.app.emulator!.callbacks.find((c) => c.event === 'VerificationSmsDeliveredEvent' && c.rawBody.includes(user.phoneNumber))!;
    const failed = JSON.parse(delivered.rawBody);
    failed.smsResult = 'Failed';

    const unsigned = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(failed) });
    expect(unsigned.status).toBe(401);
    expect((await postEvent(failed, { secret: Buffer.from('not our secret').toString('base64') })).status).toBe(401);
    expect((await postEvent(failed, { timestamp: new Date(t.clock.now().getTime() - 10 * 60_000).toISOString() })).status).toBe(401);
    // A genuine delivery, replayed with its body changed: the signature no longer covers it.
    const replay = await fetch(callbackUrl, { method: 'POST', headers: delivered.headers, body: JSON.stringify(failed) });
    expect(replay.status).toBe(401);
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  // Regression: a well-signed callback whose fields held NUL reached PostgreSQL (which refuses NUL in text) and answered 500.
  it('answers well-signed callbacks with bytes the database refuses without a 500, and changes nothing', async () => {
    const { user, pendingToken } = await registered();
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    await t.app.emulator!.settled();
    const request = JSON.parse(
      t.app.emulator!.callbacks.find((c) => c.event === 'VerificationRequestEvent' && c.rawBody.includes(user.phoneNumber))!.rawBody,
    );
    const delivered = JSON.parse(
      t.app.emulator!.callbacks.find((c) => c.event === 'VerificationSmsDeliveredEvent' && c.rawBody.includes(user.phoneNumber))!.rawBody,
    );
    const before = await snapshotDatabase(t.databaseUrl);
    for (const bad of ['a\u0000b', '\ud800', 'x'.repeat(5000)]) {
      for (const body of [
        { ...request, reference: bad },
        { ...request, id: bad },
        { ...request, identity: { type: 'number', endpoint: bad } },
        { ...delivered, id: bad, reference: bad, smsResult: 'Failed' },
        { ...delivered, reference: undefined, id: bad, smsResult: 'Failed' },
      ]) {
        const answer = await postEvent(body);
        expect(answer.status).toBeLessThan(500);
      }
    }
    expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
  });

  // Regression: a byte-identical signed callback replayed within the timestamp window was processed again.
  it('processes a callback once: a byte-identical replay within the window is answered and ignored', async () => {
    const { user, pendingToken } = await registered();
    t.app.emulator!.failDeliveryTo(user.phoneNumber);
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    await t.app.emulator!.settled();
    const failed = t.app.emulator!.callbacks.find((c) => c.event === 'VerificationSmsDeliveredEvent' && c.rawBody.includes(user.phoneNumber))!;
    const handled = () => t.logs.filter((line) => line.includes('code reported undelivered')).length;
    const before = handled();
    const replay = await fetch(callbackUrl, { method: 'POST', headers: failed.headers, body: failed.rawBody });
    expect(replay.status).toBe(200);
    expect(handled()).toBe(before);
    expect(t.logs.filter((line) => line.includes('already processed was received again'))).toHaveLength(1);
  });

  it('denies a verification that is not a live send of ours (a leaked key cannot pump SMS)', async () => {
    const { user, pendingToken } = await registered();
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    await t.app.emulator!.settled();
    const ours = JSON.parse(
      t.app.emulator!.callbacks.find((c) => c.event === 'VerificationRequestEvent' && c.rawBody.includes(user.phoneNumber))!.rawBody,
    );
    const deny = '{"action":"deny"}';
    expect((await postEvent({ ...ours, reference: 'someone-elses-reference' })).body).toBe(deny);
    expect((await postEvent({ ...ours, identity: { type: 'number', endpoint: '+447400999999' } })).body).toBe(deny);
    expect((await postEvent({ ...ours, method: 'callout' })).body).toBe(deny);
    expect((await postEvent({ ...ours, reference: undefined })).body).toBe(deny);
    expect((await postEvent(ours)).body).toBe('{"action":"allow"}');
    // Once the token is upgraded, its send is no longer live.
    await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
    expect((await postEvent(ours)).body).toBe(deny);
  });
});
