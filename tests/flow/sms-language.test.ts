import { describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../support/db-snapshot';
import { REGISTER } from '../support/operations';
import { newUser, useTestApp } from '../support/test-app';

const REQUEST_OTP_WITH_LOCALE = `mutation RequestOtp($input: RequestOtpInput!) {
  requestOtp(input: $input) { channel locale }
}`;

describe('SMS language: requestOtp(locale) goes to Sinch as Accept-Language, its Content-Language comes back', () => {
  const t = useTestApp();
  const pending = async () => (await t.gql(REGISTER, { input: newUser() })).data!.register.pendingToken as string;
  const lastStart = () => t.app.emulator!.requests.filter((r) => r.method === 'POST').at(-1)!;

  it('sends the canonical tag and answers the language Sinch used', async () => {
    const res = await t.gql(REQUEST_OTP_WITH_LOCALE, { input: { pendingToken: await pending(), locale: 'de-de' } });
    expect(res.errors).toBeUndefined();
    expect(lastStart().headers['accept-language']).toBe('de-DE');
    expect(res.data!.requestOtp).toEqual({ channel: 'SMS', locale: 'de-DE' });
  });

  it('sends no Accept-Language without a locale, and answers null when Sinch says nothing (a voice call)', async () => {
    const sms = await t.gql(REQUEST_OTP_WITH_LOCALE, { input: { pendingToken: await pending() } });
    expect([undefined, '*']).toContain(lastStart().headers['accept-language']); // fetch's own default, no preference
    expect(sms.data!.requestOtp.locale).toBe('en-US'); // what the emulator, like Sinch, reports using by default
    const voice = await t.gql(REQUEST_OTP_WITH_LOCALE, { input: { pendingToken: await pending(), channel: 'VOICE', locale: 'fr-FR' } });
    expect(voice.data!.requestOtp).toEqual({ channel: 'VOICE', locale: null });
  });

  it.each(['', 'x', 'de_DE', 'english please', 'de-DE\u0000', 'a'.repeat(40), '😀', "de'; drop", '12-34'])(
    'refuses the locale %j as BAD_USER_INPUT (field locale) before anything is sent',
    async (locale) => {
      const pendingToken = await pending();
      const starts = t.app.emulator!.requests.length;
      const before = await snapshotDatabase(t.databaseUrl);
      const res = await t.gql(REQUEST_OTP_WITH_LOCALE, { input: { pendingToken, locale } });
      expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'locale' });
      expect(t.app.emulator!.requests.length).toBe(starts);
      expect(await snapshotDatabase(t.databaseUrl)).toBe(before);
    },
  );
});
