import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { ME, REGISTER, REQUEST_OTP, SESSIONS, VERIFY_OTP } from '../support/operations';
import { loginPending, newUser, type TestApp, useTestApp } from '../support/test-app';

const TOKEN = 'metrics-token-0123456789abcdefghijklmnop';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** Sum of the samples of `name` whose labels include `labels` (0 when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = labelsOf(match[2] ?? '');
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

function labelsOf(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
}

function metricsUrl(t: TestApp): URL {
  return new URL('/metrics', t.app.url);
}

async function scrape(url: URL | string, token: string | undefined = TOKEN): Promise<string> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(response.status).toBe(200);
  return response.text();
}

/** A French mobile number, so the country code cannot be the UK one every other test uses. */
let french = 0;
function frenchUser() {
  french += 1;
  return { ...newUser(), phoneNumber: `+3361${String(process.pid % 1000).padStart(3, '0')}${String(french).padStart(4, '0')}` };
}

describe('metrics off (the default)', () => {
  const t = useTestApp();

  it('answers /metrics 404 like any unknown path', async () => {
    const response = await fetch(metricsUrl(t), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('# HELP');
  });
});

describe('metrics on the main port behind METRICS_TOKEN', () => {
  const t = useTestApp({ METRICS_TOKEN: TOKEN });

  it('answers 401 without metric text to a missing or wrong token, and the text to the right one', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
      { authorization: 'Bearer short' },
      { authorization: TOKEN },
    ]) {
      const refused = await fetch(metricsUrl(t), { headers });
      expect(refused.status).toBe(401);
      const body = await refused.text();
      expect(body).not.toContain('# HELP');
      expect(body).not.toContain('graphql_requests_total');
    }
    const response = await fetch(metricsUrl(t), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    const text = await response.text();
    expect(text).toContain('# TYPE graphql_requests_total counter');
    // prom-client's process metrics, in the app's own registry.
    expect(text).toContain('process_cpu_user_seconds_total');
    // Read-only: other methods are refused before the token is even looked at, with no metric text.
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const refused = await fetch(metricsUrl(t), { method, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(refused.status, method).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET, HEAD');
      expect(await refused.text()).not.toContain('# HELP');
    }
    const head = await fetch(metricsUrl(t), { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('counts a sign-in: one code sent and one verified, by SMS, to the number country calling code', async () => {
    const before = await scrape(metricsUrl(t));
    await t.signUp(frenchUser());
    const after = await scrape(metricsUrl(t));
    const fr = { channel: 'sms', country_code: '33' };
    expect(sample(after, 'otp_codes_sent_total', fr) - sample(before, 'otp_codes_sent_total', fr)).toBe(1);
    expect(sample(after, 'otp_codes_verified_total', fr) - sample(before, 'otp_codes_verified_total', fr)).toBe(1);
    expect(sample(after, 'otp_codes_sent_total', { country_code: '44' }) - sample(before, 'otp_codes_sent_total', { country_code: '44' })).toBe(0);
    expect(sample(after, 'otp_verifications_failed_total') - sample(before, 'otp_verifications_failed_total')).toBe(0);
  });

  it('counts a wrong code as a failed verification, by reason', async () => {
    const { user } = await t.signUp(frenchUser());
    const pendingToken = await loginPending(t.gql, user);
    await t.gql(REQUEST_OTP, { input: { pendingToken } });
    const code = t.codeFor(user.phoneNumber);
    const wrong = code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);
    const before = await scrape(metricsUrl(t));
    expect(codeOf(await t.gql(VERIFY_OTP, { input: { pendingToken, code: wrong } }))).toBe('OTP_INVALID');
    const after = await scrape(metricsUrl(t));
    const failed = { channel: 'sms', country_code: '33', reason: 'wrong_code' };
    expect(sample(after, 'otp_verifications_failed_total', failed) - sample(before, 'otp_verifications_failed_total', failed)).toBe(1);
    expect(sample(after, 'otp_codes_verified_total') - sample(before, 'otp_codes_verified_total')).toBe(0);
  });

  it('counts requests and their duration per operation and result code, with bounded labels', async () => {
    const before = await scrape(metricsUrl(t));
    await t.gql(ME);
    await t.gql(ME);
    await t.gql(REGISTER, { input: newUser() });
    await t.gql('query ClientChosenName { me { id', {});
    const after = await scrape(metricsUrl(t));
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('graphql_requests_total', { operation: 'me', code: 'UNAUTHENTICATED' })).toBe(2);
    expect(delta('graphql_request_duration_seconds_count', { operation: 'me', code: 'UNAUTHENTICATED' })).toBe(2);
    expect(delta('graphql_requests_total', { operation: 'register', code: 'OK' })).toBe(1);
    expect(delta('graphql_requests_total', { operation: 'unknown', code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    // The client's operation name is not a label value.
    expect(after).not.toContain('ClientChosenName');
  });

  it('counts a Sinch failure per endpoint and kind', async () => {
    const { user } = await t.signUp();
    const pendingToken = await loginPending(t.gql, user);
    const before = await scrape(metricsUrl(t));
    t.app.emulator!.injectFault({ on: 'start', kind: 'http', status: 500 });
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('PROVIDER_UNAVAILABLE');
    const after = await scrape(metricsUrl(t));
    const labels = { endpoint: 'start', kind: 'http_500' };
    expect(sample(after, 'sinch_errors_total', labels) - sample(before, 'sinch_errors_total', labels)).toBe(1);
    const timed = { endpoint: 'start', outcome: 'http_500' };
    expect(sample(after, 'sinch_request_duration_seconds_count', timed) - sample(before, 'sinch_request_duration_seconds_count', timed)).toBe(1);
    expect(sample(after, 'sinch_request_duration_seconds_count', { endpoint: 'start', outcome: 'ok' })).toBeGreaterThan(0);
    // One outage does not open the circuit (5 in a row do).
    expect(after).toMatch(/^sinch_breaker_state\{scope="sinch"\} 0$/m);
  });

  it('reports the database pool and the password queue at each scrape', async () => {
    const text = await scrape(metricsUrl(t));
    expect(sample(text, 'db_pool_connections', { state: 'free' }) + sample(text, 'db_pool_connections', { state: 'used' })).toBeGreaterThan(0);
    expect(text).toMatch(/^db_pool_connections\{state="pending"\} \d+$/m);
    expect(text).toMatch(/^password_hash_queue_depth \d+$/m);
  });

  it('holds no email, phone number or token in any label value', async () => {
    const signedIn = await t.signUp(frenchUser());
    await t.gql(ME, {}, { authorization: `Bearer ${signedIn.accessToken}` });
    const text = await scrape(metricsUrl(t));
    const values = text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .flatMap((line) => Object.values(labelsOf(/\{(.*)\}/.exec(line)?.[1] ?? '')));
    expect(values.length).toBeGreaterThan(50);
    for (const value of values) {
      expect(value).not.toMatch(/@/);
      // A calling code has at most 3 digits; a number, or a national part of one, has more.
      expect(value).not.toMatch(/\d{5,}/);
      expect(value).not.toContain('eyJ');
    }
    for (const secret of [signedIn.user.email, signedIn.user.phoneNumber, signedIn.user.phoneNumber.slice(3), signedIn.accessToken, TOKEN]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('metrics on a port of their own (METRICS_PORT), with the token, and limiter refusals', () => {
  const t = useTestApp({
    METRICS_PORT: '0',
    METRICS_TOKEN: TOKEN,
    RATE_LIMIT_SESSIONS_PER_IP: '1/60',
    OTP_SENDS_PER_PHONE_PER_HOUR: '1',
  });

  it('serves /metrics on its own port only, on loopback, behind the token', async () => {
    expect(t.app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(metricsUrl(t), { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(t.app.metricsUrl!)).status).toBe(401);
    const response = await fetch(t.app.metricsUrl!, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    // Nothing else is served there.
    expect((await fetch(new URL('/graphql', t.app.metricsUrl))).status).toBe(404);
    expect((await fetch(new URL('/healthz', t.app.metricsUrl))).status).toBe(404);
  });

  it('counts a directive refusal under its policy', async () => {
    const before = await scrape(t.app.metricsUrl!);
    await t.gql(SESSIONS);
    expect(codeOf(await t.gql(SESSIONS))).toBe('RATE_LIMITED');
    const after = await scrape(t.app.metricsUrl!);
    const rule = { rule: 'sessionsPerIp' };
    expect(sample(after, 'rate_limit_refusals_total', rule) - sample(before, 'rate_limit_refusals_total', rule)).toBe(1);
    const refused = { operation: 'sessions', code: 'RATE_LIMITED' };
    expect(sample(after, 'graphql_requests_total', refused) - sample(before, 'graphql_requests_total', refused)).toBe(1);
  });

  it('counts a refusal of the service own budgets under their rule', async () => {
    // One send to the number unproven (sign-up), one to its proven owner (a login): both budgets spent.
    const { user } = await t.signUp();
    expect((await t.gql(REQUEST_OTP, { input: { pendingToken: await loginPending(t.gql, user) } })).errors).toBeUndefined();
    const pendingToken = await loginPending(t.gql, user);
    const before = await scrape(t.app.metricsUrl!);
    expect(codeOf(await t.gql(REQUEST_OTP, { input: { pendingToken } }))).toBe('RATE_LIMITED');
    const after = await scrape(t.app.metricsUrl!);
    const rule = { rule: 'sendsPerPhoneHour' };
    expect(sample(after, 'rate_limit_refusals_total', rule) - sample(before, 'rate_limit_refusals_total', rule)).toBe(1);
    expect(
      sample(after, 'rate_limit_refusals_total', { rule: 'sessionsPerIp' }) - sample(before, 'rate_limit_refusals_total', { rule: 'sessionsPerIp' }),
    ).toBe(0);
  });
});
