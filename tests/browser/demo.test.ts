import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_SESSION } from '../support/operations';
import { newUser, startTestApp, type TestApp } from '../support/test-app';

/** Debian's Chromium (`apt-get install chromium`, done by .ci/run); never a downloaded browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Kept by CI: one screenshot per step of the flow. */
const SCREENSHOTS = path.resolve('test-results/screenshots');
/** Chromium on a machine without internet: no background calls to Google's hosts. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

/**
 * The demo SPA (Vite dev server, its own origin) against the real service and the Sinch emulator,
 * driven in a real Chromium the way a person would: by labels and buttons. The page's clock and
 * the service's move together, so countdowns and token renewal are tested without waiting.
 */
describe.skipIf(!haveChromium)('the demo in a real browser', () => {
  let t: TestApp;
  let vite: ViteDevServer;
  let browser: Browser;
  let page: Page;
  let demoUrl: string;
  let step = 0;
  const user = newUser();

  beforeAll(async () => {
    t = await startTestApp();
    process.env.VITE_API_URL = t.app.url;
    const { createServer } = await import('vite');
    vite = await createServer({ configFile: 'demo/vite.config.ts', logLevel: 'warn', server: { port: 0, host: 'localhost' } });
    await vite.listen();
    demoUrl = vite.resolvedUrls!.local[0];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.clock.install({ time: t.clock.now() });
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await vite?.close();
    await t?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${String(++step).padStart(2, '0')}-${name}.png`), fullPage: true });
  /** Time passes for the page and the service alike. */
  const pass = async (seconds: number) => {
    t.clock.advance(seconds);
    await page.clock.fastForward(seconds * 1000);
  };

  it('is served from another origin than the API', () => {
    expect(new URL(demoUrl).origin).not.toBe(new URL(t.app.url).origin);
  });

  it('signs up: email, password, phone number', async () => {
    await page.goto(demoUrl);
    await page.getByRole('button', { name: 'Create an account instead' }).click();
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByLabel('Phone number').fill(user.phoneNumber);
    await shot('sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.getByText(/We will send a one-time code to \+44 \*+\d\d/).isVisible()).toBe(true);
  });

  it('sends a code by SMS and counts down to the resend', async () => {
    await page.getByRole('button', { name: 'Text me a code' }).click();
    await page.getByText(/We sent a code by SMS/).waitFor();
    const resend = page.getByRole('button', { name: /^Resend code in \d+ s$/ });
    await resend.waitFor();
    expect(await resend.isDisabled()).toBe(true);
    await shot('code-sent');
  });

  it('shows a friendly message for a wrong code, with the attempts left', async () => {
    const right = t.codeFor(user.phoneNumber);
    await page.getByLabel('Code').fill(right === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('That code is not right. 4 attempts left.').waitFor();
    await shot('wrong-code');
  });

  it('lets the user resend once the countdown is over', async () => {
    await pass(31);
    const resend = page.getByRole('button', { name: 'Resend code', exact: true });
    await expect.poll(() => resend.isEnabled()).toBe(true);
    // This SMS will not arrive: the emulator reports it undelivered (Sinch's callbacks).
    t.app.emulator!.failDeliveryTo(user.phoneNumber);
    await resend.click();
    await shot('resent');
  });

  it('offers a call at once when the SMS could not be delivered, and signs in with the code read out', async () => {
    // The page polls otpStatus every 2 s.
    await pass(2);
    await page.getByText('The SMS could not be delivered. You can get a call instead, now.').waitFor();
    const call = page.getByRole('button', { name: 'Call me instead', exact: true });
    await expect.poll(() => call.isEnabled()).toBe(true);
    await shot('delivery-failed');
    await call.click();
    await page.getByText(/We sent a code by a call/).waitFor();
    await page.getByLabel('Code').fill(t.codeFor(user.phoneNumber));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(`Signed in as ${user.email}`).waitFor();
    await page.getByText('This device').waitFor();
    await shot('signed-in');
  });

  it('renews the access token with the refresh token before it expires', async () => {
    await pass(14 * 60 + 30); // the renewal is due one minute before the 15-minute expiry
    await page.getByText(/^Session renewed at /).waitFor();
    await page.getByRole('button', { name: 'Renew session now' }).click();
    await page.getByText(/^Session renewed at /).waitFor();
    await shot('renewed');
  });

  it('signs out: back to the sign-in form, and the session is over at the service', async () => {
    const refreshToken = await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('sinch-2fa-demo.refreshToken'),
    );
    expect(refreshToken).toBeTruthy();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot('signed-out');
    const replay = await t.gql(REFRESH_SESSION, { input: { refreshToken } });
    expect(replay.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('serves its own IDE at GET /graphql when Apollo Sandbox cannot load (this machine is offline)', async () => {
    const ide = await browser.newPage();
    await ide.goto(t.app.url);
    await ide.waitForURL('**/graphql/ide/');
    // With its variables: the operations open as the client kit writes them (the `$` were once stripped).
    await ide.getByText('mutation Register($input: RegisterInput!)').first().waitFor({ timeout: 20_000 });
    await ide.screenshot({ path: path.join(SCREENSHOTS, `${String(++step).padStart(2, '0')}-offline-ide.png`) });
    await ide.close();
  });
});
