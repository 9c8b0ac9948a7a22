import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { addSeconds } from '../../src/time/clock';
import { generateEphemeralKey, importSigningKey, type SigningKey } from '../../src/tokens/signing-key';
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

describe('tokens as any JWT library reads them (signed with node:crypto, verified by jose against the JWKS)', () => {
  const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keyMakers: Array<[string, () => Promise<SigningKey>]> = [
    ['EdDSA', generateEphemeralKey],
    ['ES256', () => importSigningKey(p256())],
  ];
  for (const [alg, makeKey] of keyMakers) {
    it(`${alg}: header, claims and signature of an access token and a pending token`, async () => {
      const now = new Date('2026-12-02T12:00:00.250Z');
      const key = await makeKey();
      const tokens = new TokenService(key, [], SETTINGS, { now: () => now });
      const jwks = createLocalJWKSet(tokens.jwks() as never);
      const userId = randomUUID();
      const sessionId = randomUUID();
      const access = tokens.issueAccess({ userId, sessionId, amr: ['pwd', 'sms'], authTime: now }, addSeconds(now, 3600));
      expect(decodeProtectedHeader(access.token)).toEqual({ alg, kid: key.kid, typ: 'at+jwt' });
      const { payload } = await jwtVerify(access.token, jwks, {
        issuer: SETTINGS.issuer,
        audience: SETTINGS.audience,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: now,
      });
      expect(payload).toEqual({
        iss: SETTINGS.issuer,
        aud: SETTINGS.audience,
        sub: userId,
        jti: expect.any(String),
        sid: sessionId,
        amr: ['pwd', 'sms'],
        auth_time: 1796212800,
        iat: 1796212800,
        exp: 1796212800 + 900,
      });
      expect(access.expiresAt).toEqual(new Date('2026-12-02T12:15:00.000Z'));

      const challengeId = randomUUID();
      const pending = tokens.issuePending({ userId, challengeId, expiresAt: addSeconds(now, 600), purpose: 'sign_in' });
      const read = await jwtVerify(pending, jwks, { audience: `${SETTINGS.audience}:pending-2fa`, typ: 'pending-2fa+jwt', currentDate: now });
      expect(read.payload).toMatchObject({ sub: userId, jti: challengeId, purpose: 'sign_in', iat: 1796212800, exp: 1796212800 + 600 });
      // A signature of another key of the same kind is refused.
      const [header, claims] = pending.split('.');
      const stranger = new TokenService(await makeKey(), [], SETTINGS, { now: () => now });
      const foreign = stranger.issuePending({ userId, challengeId, expiresAt: addSeconds(now, 600), purpose: 'sign_in' }).split('.')[2];
      await expect(jwtVerify(`${header}.${claims}.${foreign}`, jwks)).rejects.toThrow();
    });
  }
});
