import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { queryDatabase } from '../support/database';
import { REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { newUser, useTestApp } from '../support/test-app';

/** Two sends of one pending token in flight at once (no cooldown), ordered by holding the emulator's answer. */
describe('sends in flight do not overwrite each other', () => {
  const t = useTestApp({ OTP_RESEND_COOLDOWN_SECONDS: '0' });

  async function twoSendsInFlight(firstAnswer: 'ok' | 'fails') {
    const user = newUser();
    const pendingToken = (await t.gql(REGISTER, { input: user })).data!.register.pendingToken as string;
    const emulator = t.app.emulator!;
    emulator.injectFault({ on: 'start', kind: 'hold', ...(firstAnswer === 'fails' ? { answer: { kind: 'http', status: 500 } } : {}) });
    const first = t.gql(REQUEST_OTP, { input: { pendingToken } });
    await expect.poll(() => emulator.heldCount).toBe(1);
    const second = await t.gql(REQUEST_OTP, { input: { pendingToken } });
    expect(second.errors).toBeUndefined();
    emulator.releaseHeld();
    return { user, pendingToken, first: await first };
  }

  const challengeOf = async (pendingToken: string) => {
    const [row] = await queryDatabase(t.databaseUrl, 'select send_count, send_reference, last_sent_at from otp_challenge where id = $1', [
      decodeJwt(pendingToken).jti,
    ]);
    return row;
  };

  // Regression: the earlier send's answer, arriving last, recorded its (aborted) verification over the newer one.
  it('keeps the newest send when an older one is answered after it', async () => {
    const { user, pendingToken, first } = await twoSendsInFlight('ok');
    expect(first.errors).toBeUndefined();
    const verified = await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } });
    expect(verified.errors).toBeUndefined();
  });

  // Regression: the failed send's give-back restored the state from before both sends, erasing the newer one.
  it('gives back a failed send only while it is still the latest', async () => {
    const { user, pendingToken, first } = await twoSendsInFlight('fails');
    expect(first.errors?.[0]?.extensions?.code).toBe('PROVIDER_UNAVAILABLE');
    const row = await challengeOf(pendingToken);
    expect(row.send_count).toBe(2);
    expect(row.send_reference).not.toBeNull();
    expect(row.last_sent_at).not.toBeNull();
    expect((await t.gql(VERIFY_OTP, { input: { pendingToken, code: t.codeFor(user.phoneNumber) } })).errors).toBeUndefined();
  });
});

// Attack probe (2026-12-05): a send whose challenge ended while Sinch answered (a new phone change
// replaced it, the account was deleted) went out without a trace in the log or the metrics.
describe('a code sent for a challenge that ended meanwhile', () => {
  const t = useTestApp();

  it('answers UNAUTHENTICATED and still says a code went out', async () => {
    const pendingToken = (await t.gql(REGISTER, { input: newUser() })).data!.register.pendingToken as string;
    const emulator = t.app.emulator!;
    emulator.injectFault({ on: 'start', kind: 'hold' });
    const sending = t.gql(REQUEST_OTP, { input: { pendingToken } });
    await expect.poll(() => emulator.heldCount).toBe(1);
    await queryDatabase(t.databaseUrl, 'delete from otp_challenge where id = $1', [decodeJwt(pendingToken).jti]);
    emulator.releaseHeld();
    expect((await sending).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(t.logs.filter((line) => line.includes('code sent for a challenge that ended meanwhile'))).toHaveLength(1);
  });
});
