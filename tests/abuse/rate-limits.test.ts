import { describe, expect, it } from 'vitest';
import { emailAtNetwork, limitKey } from '../../src/rate-limits/budget';
import { loginEmail } from '../../src/validation/email';
import { queryDatabase } from '../support/database';
import { codeOf } from '../support/graphql-client';
import {
  CHANGE_PASSWORD,
  DELETE_ACCOUNT,
  LOGIN,
  REAUTHENTICATE,
  REGENERATE_RECOVERY_CODES,
  REGISTER,
  START_PHONE_NUMBER_CHANGE,
  VERIFY_RECOVERY_CODE,
} from '../support/operations';
import { newUser, useTestApp } from '../support/test-app';

describe('GraphQL rate limits', () => {
  const t = useTestApp({
    RATE_LIMIT_LOGIN_PER_EMAIL: '3/900',
    RATE_LIMIT_LOGIN_PER_IP: '8/900',
    RATE_LIMIT_REGISTER_PER_IP: '2/3600',
    TRUST_PROXY: 'loopback',
  });

  const login = (email: string, ip: string) => t.gql(LOGIN, { input: { email, password: 'wrong password' } }, { 'x-forwarded-for': ip });

  it('counts logins per email and client network, across letter case and spacing, with retryAfterSeconds', async () => {
    const email = `victim.${Date.now()}@example.com`;
    for (const variant of [email, email.toUpperCase(), `  ${email} `]) {
      expect(codeOf(await login(variant, '203.0.113.1'))).toBe('INVALID_CREDENTIALS');
    }
    const refused = await login(email, '203.0.113.1');
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    const retry = refused.errors![0].extensions!.retryAfterSeconds;
    expect(retry).toBeGreaterThan(800);
    expect(retry).toBeLessThanOrEqual(900);
    // Regression: the per-email limit let anyone who knew the email hold the login off everywhere.
    // Another network has its own bucket.
    expect(codeOf(await login(email, '203.0.113.2'))).toBe('INVALID_CREDENTIALS');
  });

  // Login takes the point inside its account lookup (one statement), changePassword through the
  // limiter: both must count on the same row, under the same rule, or one would reset the other.
  it('spends one budget per email and network across login and changePassword, in one counter row', async () => {
    const { user, accessToken } = await t.signUp();
    const ip = '203.0.113.61';
    const changePassword = () =>
      t.gql(
        CHANGE_PASSWORD,
        { input: { currentPassword: 'wrong password', newPassword: 'another long passphrase 42' } },
        { authorization: `Bearer ${accessToken}`, 'x-forwarded-for': ip },
      );
    const key = `loginPerEmail:${limitKey(emailAtNetwork(loginEmail(user.email).key, ip))}`;
    const row = () => queryDatabase(t.databaseUrl, 'select points, expire from rate_limit where key = $1', [key]);
    const before = Date.now();
    expect(codeOf(await login(user.email, ip))).toBe('INVALID_CREDENTIALS');
    const [first] = await row();
    expect(first.points).toBe(1);
    expect(Number(first.expire)).toBeGreaterThanOrEqual(before + 900_000);
    expect(Number(first.expire)).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(codeOf(await changePassword())).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await login(user.email, ip))).toBe('INVALID_CREDENTIALS');
    expect(await row()).toEqual([{ points: 3, expire: first.expire }]);
    expect(codeOf(await changePassword())).toBe('RATE_LIMITED');
    expect(codeOf(await login(user.email, ip))).toBe('RATE_LIMITED');
    expect(codeOf(await login(user.email, '203.0.113.62'))).toBe('INVALID_CREDENTIALS');
    // Counted by login's own statement, not by the fallback that counts apart (the same row either way).
    expect(t.logs.filter((line) => line.includes('attempt count failed'))).toEqual([]);
  });

  it('starts a new window on the same row once the old one has ended', async () => {
    const email = `window.${Date.now()}@example.com`;
    const ip = '203.0.113.63';
    for (let i = 0; i < 3; i++) expect(codeOf(await login(email, ip))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await login(email, ip))).toBe('RATE_LIMITED');
    const key = `loginPerEmail:${limitKey(emailAtNetwork(loginEmail(email).key, ip))}`;
    await queryDatabase(t.databaseUrl, 'update rate_limit set expire = $2 where key = $1', [key, Date.now() - 1]);
    const before = Date.now();
    expect(codeOf(await login(email, ip))).toBe('INVALID_CREDENTIALS');
    const [row] = await queryDatabase(t.databaseUrl, 'select points, expire from rate_limit where key = $1', [key]);
    expect(row.points).toBe(1);
    expect(Number(row.expire)).toBeGreaterThanOrEqual(before + 900_000);
  });

  it('treats unknown and known emails alike (no enumeration through the limiter)', async () => {
    const { user } = await t.signUp();
    const ghost = `ghost.${Date.now()}@example.com`;
    const answers = [];
    for (const email of [user.email, ghost]) {
      for (let i = 0; i < 4; i++) answers.push(codeOf(await login(email, '198.51.100.10')));
    }
    expect(answers).toEqual([...Array(3).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED', ...Array(3).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED']);
  });

  it('counts per client IP, taken from X-Forwarded-For behind a trusted proxy', async () => {
    const ip = '192.0.2.77';
    const answers = [];
    for (let i = 0; i < 9; i++) answers.push(codeOf(await login(`spray${i}.${Date.now()}@example.com`, ip)));
    expect(answers.slice(0, 8)).toEqual(Array(8).fill('INVALID_CREDENTIALS'));
    expect(answers[8]).toBe('RATE_LIMITED');
    expect(codeOf(await login(`other.${Date.now()}@example.com`, '192.0.2.78'))).toBe('INVALID_CREDENTIALS');
  });

  it('counts aliased calls in one request one by one', async () => {
    const users = [newUser(), newUser(), newUser()];
    const fields = users.map(
      (user, i) =>
        `r${i}: register(input: {email: "${user.email}", password: "${user.password}", phoneNumber: "${user.phoneNumber}"}) { pendingToken }`,
    );
    const res = await t.gql(`mutation { ${fields.join(' ')} }`, {}, { 'x-forwarded-for': '192.0.2.200' });
    expect(res.errors!.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([['r2', 'RATE_LIMITED']]);
    const logins = await Promise.all(users.map((user) => t.gql(LOGIN, { input: { email: user.email, password: user.password } })));
    expect(logins.map((r) => codeOf(r) ?? 'ok')).toEqual(['ok', 'ok', 'INVALID_CREDENTIALS']);
  });

  it('refuses register past its per-IP limit without touching the database', async () => {
    const ip = '192.0.2.201';
    for (let i = 0; i < 2; i++) expect((await t.gql(REGISTER, { input: newUser() }, { 'x-forwarded-for': ip })).errors).toBeUndefined();
    const user = newUser();
    expect(codeOf(await t.gql(REGISTER, { input: user }, { 'x-forwarded-for': ip }))).toBe('RATE_LIMITED');
    expect(codeOf(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toBe('INVALID_CREDENTIALS');
  });
});

describe('X-Forwarded-For without a trusted proxy', () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_IP: '3/900' });

  it('is ignored: a forged header does not buy a new bucket', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.gql(LOGIN, { input: { email: `x${i}.${Date.now()}@example.com`, password: 'pw' } }, { 'x-forwarded-for': `10.9.9.${i}` });
      answers.push(codeOf(res));
    }
    expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
  });
});

describe('rate limits of the account operations, per client address', () => {
  const t = useTestApp({ RATE_LIMIT_ACCOUNT_CHANGES_PER_IP: '3/3600', RATE_LIMIT_VERIFY_RECOVERY_CODE_PER_IP: '2/3600', TRUST_PROXY: 'loopback' });

  it('shares one account-changes budget between reauthenticate, changePassword, startPhoneNumberChange, regenerateRecoveryCodes and deleteAccount', async () => {
    const { accessToken } = await t.signUp();
    const from = (ip: string) => ({ authorization: `Bearer ${accessToken}`, 'x-forwarded-for': ip });
    const ip = '192.0.2.50';
    const answers = [
      codeOf(await t.gql(REAUTHENTICATE, {}, from(ip))),
      codeOf(await t.gql(CHANGE_PASSWORD, { input: { currentPassword: 'wrong password', newPassword: 'a new long password' } }, from(ip))),
      codeOf(await t.gql(REGENERATE_RECOVERY_CODES, {}, from(ip))),
      codeOf(await t.gql(START_PHONE_NUMBER_CHANGE, { input: { phoneNumber: '+447401000111' } }, from(ip))),
      codeOf(await t.gql(DELETE_ACCOUNT, { input: { password: 'x' } }, from(ip))),
    ];
    expect(answers).toEqual([undefined, 'INVALID_CREDENTIALS', undefined, 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(codeOf(await t.gql(REAUTHENTICATE, {}, from('192.0.2.51')))).toBeUndefined();
  });

  it('counts verifyRecoveryCode per address, bad tokens included', async () => {
    const ip = { 'x-forwarded-for': '192.0.2.60' };
    const guess = () => t.gql(VERIFY_RECOVERY_CODE, { input: { pendingToken: 'nope', recoveryCode: '0000-0000-0000-0000' } }, ip);
    const answers = [codeOf(await guess()), codeOf(await guess()), await guess()];
    expect(answers.slice(0, 2)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED']);
    expect(answers[2]).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
  });
});

describe('one canonical form of an email', () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_EMAIL: '3/900' });

  // Regression: JavaScript and PostgreSQL lower-case İ and the Greek final sigma differently, so the
  // limiter's key and the account lookup disagreed and one address had several buckets. One
  // canonical form, computed once, now serves both: the same address is one account and one bucket.
  it.each([
    ['the Greek final sigma', 'οδος', ['ΟΔΟΣ', 'οδοσ', 'Οδος']],
    ['a dotted capital I', 'vi̇cti̇m', ['VİCTİM', 'vİctİm', 'Vi̇cti̇m']],
  ])('makes %s one account and one bucket', async (_name, local, variants) => {
    const email = `${local}.${Date.now()}@example.com`;
    const { user } = await t.signUp({ email });
    for (const variant of variants) {
      const typed = `${variant}.${email.split('.').slice(1).join('.')}`;
      const answer = await t.gql(LOGIN, { input: { email: typed, password: user.password } }, { 'x-forwarded-for': '198.51.100.77' });
      expect(answer.data?.login.pendingToken).toBeTruthy(); // the same account
    }
    // Three logins of the same address from any spelling: the fourth is refused, whatever its spelling.
    expect(codeOf(await t.gql(LOGIN, { input: { email: email.toUpperCase(), password: user.password } }))).toBe('RATE_LIMITED');
  });
});

describe("login's per-email ceiling across networks", () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_EMAIL: '3/900', RATE_LIMIT_LOGIN_PER_EMAIL_CEILING: '5/86400', TRUST_PROXY: 'loopback' });
  const login = (email: string, password: string, ip: string) => t.gql(LOGIN, { input: { email, password } }, { 'x-forwarded-for': ip });

  it('bounds guessing from many networks, yet spares the networks the user has signed in from', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.99' }); // the user's home network
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(codeOf(await login(user.email, 'wrong password', `203.0.113.${100 + i}`)));
    expect(answers).toEqual([...Array(5).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED', 'RATE_LIMITED']);
    // The ceiling is taken while the password is compared: past it, the right password is refused too.
    const right = await login(user.email, user.password, '203.0.113.120');
    expect(codeOf(right)).toBe('RATE_LIMITED');
    expect(right.data?.login).toBeFalsy();
    // A stranger who spent the ceiling cannot keep the user out of their own network.
    expect((await login(user.email, user.password, '192.0.2.99')).data?.login.pendingToken).toBeTruthy();
    // Nor does the ceiling tell known accounts from unknown ones.
    const ghost = `ghost.${Date.now()}@example.com`;
    const ghostAnswers = [];
    for (let i = 0; i < 6; i++) ghostAnswers.push(codeOf(await login(ghost, 'wrong password', `203.0.113.${150 + i}`)));
    expect(ghostAnswers).toEqual([...Array(5).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED']);
  });

  // Login takes both points in its lookup's statement: the ceiling's only when the count per network
  // admits the attempt and the network is new, as PasswordAttempts.check does when it takes them itself.
  it('takes no ceiling point for an attempt its network already refuses, nor from a network the user has signed in from', async () => {
    const { user } = await t.signUp({}, { 'x-forwarded-for': '192.0.2.77' });
    const key = `loginCeilingPerEmail:${limitKey(loginEmail(user.email).key)}`;
    const ceilingPoints = async () => (await queryDatabase(t.databaseUrl, 'select points from rate_limit where key = $1', [key]))[0]?.points ?? 0;
    for (let i = 0; i < 2; i++) expect(codeOf(await login(user.email, 'wrong password', '192.0.2.77'))).toBe('INVALID_CREDENTIALS');
    expect(await ceilingPoints()).toBe(0);
    const fromOneNetwork = [];
    for (let i = 0; i < 8; i++) fromOneNetwork.push(codeOf(await login(user.email, 'wrong password', '203.0.113.200')));
    expect(fromOneNetwork).toEqual([...Array(3).fill('INVALID_CREDENTIALS'), ...Array(5).fill('RATE_LIMITED')]);
    expect(await ceilingPoints()).toBe(3);
    // Two left of five: a second new network gets exactly those.
    const fromAnother = [];
    for (let i = 0; i < 3; i++) fromAnother.push(codeOf(await login(user.email, 'wrong password', '203.0.113.201')));
    expect(fromAnother).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
  });
});
