import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { eventTypesOf, queryDatabase, waitingFor } from '../support/database';
import { codeOf } from '../support/graphql-client';
import { LOGIN, REQUEST_OTP } from '../support/operations';
import { useTestApp } from '../support/test-app';
import { until } from '../support/until';

/**
 * Login writes its challenge and signs the pending token while bcrypt compares the password
 * (`OtpService.openAhead`), and answers once the compare does: the row is handed out for a
 * matching password and withdrawn (deleted, after the answer) for any other outcome.
 */
describe('the challenge login opens while it compares the password', () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_EMAIL: '3/900', RATE_LIMIT_LOGIN_PER_EMAIL_CEILING: '4/86400', TRUST_PROXY: 'loopback' });
  const login = (email: string, password: string, ip = '192.0.2.10') => t.gql(LOGIN, { input: { email, password } }, { 'x-forwarded-for': ip });

  const challengesOf = async (email: string) =>
    Number(
      (
        await queryDatabase<{ n: string }>(
          t.databaseUrl,
          'select count(*) as n from otp_challenge c join app_user u on u.id = c.user_id where u.email = $1',
          [email],
        )
      )[0].n,
    );
  const eventsOf = (email: string) => eventTypesOf(t.databaseUrl, email);

  /**
   * The insert and the withdrawal both run beside the answer: poll (up to 3 s) until the count reads
   * `expected` twice, 200 ms apart (a first read can come before the insert is visible).
   */
  async function settlesAt(email: string, expected: number): Promise<number> {
    let count = -1;
    for (let i = 0; i < 30; i++) {
      count = await challengesOf(email);
      if (count === expected) {
        await sleep(200);
        count = await challengesOf(email);
        if (count === expected) return count;
      }
      await sleep(100);
    }
    return count;
  }

  it('withdraws it for a wrong password: no challenge is left and only LOGIN_FAILED is recorded', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.10' });
    const before = await challengesOf(user.email);
    for (let i = 0; i < 3; i++) expect(codeOf(await login(user.email, `wrong password ${i}`))).toBe('INVALID_CREDENTIALS');
    expect(await settlesAt(user.email, before)).toBe(before);
    await expect.poll(() => eventsOf(user.email)).toEqual(['REGISTERED', 'OTP_SENT', 'OTP_VERIFIED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED']);
  });

  it('withdraws it when the per-email ceiling refuses the attempt after the compare, even for the right password', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.20' });
    const before = await challengesOf(user.email);
    // New networks each: the ceiling (4 a day) is taken while the password is compared.
    for (let i = 0; i < 4; i++) expect(codeOf(await login(user.email, 'wrong password', `203.0.113.${10 + i}`))).toBe('INVALID_CREDENTIALS');
    const refused = await login(user.email, user.password, '203.0.113.20');
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(await settlesAt(user.email, before)).toBe(before);
    // Every attempt's event has landed (written after the answer): four failures, no success.
    await expect.poll(async () => (await eventsOf(user.email)).filter((type) => type.startsWith('LOGIN_'))).toEqual(Array(4).fill('LOGIN_FAILED'));
  });

  // Code review: a login whose challenge found the password changed answered INVALID_CREDENTIALS
  // and left no trace in the trail.
  it('records LOGIN_FAILED when the password it compared changed before its challenge was written', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.40' });
    const before = await challengesOf(user.email);
    const other = new pg.Client({ connectionString: t.databaseUrl });
    await other.connect();
    try {
      await other.query('begin');
      await other.query('select 1 from app_user where email = $1 for update', [user.email]);
      const answered = login(user.email, user.password, '192.0.2.40');
      // The challenge's insert waits for the account's row, after the lookup read the old hash.
      await until(async () => (await waitingFor(other)).some((query) => /insert into otp_challenge/i.test(query)), 'the insert to wait', 10_000);
      await other.query(`update app_user set password_hash = 'changed meanwhile' where email = $1`, [user.email]);
      await other.query('commit');
      expect(codeOf(await answered)).toBe('INVALID_CREDENTIALS');
    } finally {
      await other.end();
    }
    expect(await settlesAt(user.email, before)).toBe(before);
    await expect.poll(() => eventsOf(user.email)).toEqual(['REGISTERED', 'OTP_SENT', 'OTP_VERIFIED', 'LOGIN_FAILED']);
  });

  it('hands it out for the right password: a code can be asked for at once, and LOGIN_SUCCEEDED is recorded', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.30' });
    const before = await challengesOf(user.email);
    const answered = await login(user.email, user.password, '192.0.2.30');
    const pendingToken = answered.data!.login.pendingToken;
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    expect(await settlesAt(user.email, before + 1)).toBe(before + 1);
    await expect.poll(() => eventsOf(user.email)).toEqual(['REGISTERED', 'OTP_SENT', 'OTP_VERIFIED', 'LOGIN_SUCCEEDED', 'OTP_SENT']);
  });
});

describe('a stored number that the phone policy has since refused', () => {
  const t = useTestApp({ PHONE_DENIED_COUNTRIES: 'FR' });

  // Review: the challenge's channels were asked of the phone policy before the compare, so a
  // stored number it now refuses answered its error at once for any password: an account's
  // existence told by the code and the timing. Its answer comes after a matching password only.
  it('answers a wrong password INVALID_CREDENTIALS, as for an unknown email, and the policy only after the right one', async () => {
    const { user } = await t.signUp();
    await queryDatabase(t.databaseUrl, `update app_user set phone_number = '+33612345678' where email = $1`, [user.email]);
    expect(codeOf(await t.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } }))).toBe('INVALID_CREDENTIALS');
    const right = await t.gql(LOGIN, { input: { email: user.email, password: user.password } });
    expect(codeOf(right)).toBe('PHONE_NUMBER_NOT_ALLOWED');
    expect(
      Number(
        (
          await queryDatabase<{ n: string }>(
            t.databaseUrl,
            `select count(*) as n from otp_challenge c join app_user u on u.id = c.user_id where u.email = $1 and c.status = 'pending'`,
            [user.email],
          )
        )[0].n,
      ),
    ).toBe(0);
  });
});
