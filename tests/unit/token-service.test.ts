import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { addSeconds } from '../../src/time/clock';
import { generateEphemeralKey } from '../../src/tokens/signing-key';
import { TokenService } from '../../src/tokens/token-service';

const SETTINGS = { issuer: 'sinch-2fa', audience: 'sinch-2fa-clients', accessTokenTtlSeconds: 900 };

/** Two processes with the same key: `signer` remembers what it signs, `other` can only check signatures. */
async function twoServices() {
  let now = new Date('2026-12-02T12:00:00.250Z');
  const clock = { now: () => now };
  const key = await generateEphemeralKey();
  return {
    signer: new TokenService(key, [], SETTINGS, clock),
    other: new TokenService(key, [], SETTINGS, clock),
    advance: (seconds: number) => {
      now = addSeconds(now, seconds);
    },
    now: () => now,
  };
}

describe('tokens signed by this process', () => {
  it('read back with the same claims as a signature check gives (a pending token, remembered when signed)', async () => {
    const { signer, other, now } = await twoServices();
    const pending = await signer.issuePending({
      userId: randomUUID(),
      challengeId: randomUUID(),
      expiresAt: addSeconds(now(), 600),
      purpose: 'sign_in',
    });
    expect(await signer.verifyPending(pending)).toEqual(await other.verifyPending(pending));
  });

  it('are refused once expired, and a tampered copy is refused at once', async () => {
    const { signer, advance, now } = await twoServices();
    const pending = await signer.issuePending({
      userId: randomUUID(),
      challengeId: randomUUID(),
      expiresAt: addSeconds(now(), 60),
      purpose: 'sign_in',
    });
    const [header, payload, signature] = pending.split('.');
    const tampered = [header, payload, `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`].join('.');
    await expect(signer.verifyPending(tampered)).rejects.toBeInstanceOf(AppError);
    await expect(signer.verifyPending(pending)).resolves.toBeDefined();
    advance(60);
    await expect(signer.verifyPending(pending)).rejects.toBeInstanceOf(AppError);
  });
});
