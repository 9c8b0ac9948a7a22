import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '../errors/app-error';
import { addSeconds, type Clock } from '../time/clock';
import type { SigningKey } from './signing-key';

/** RFC 9068's type for access tokens; pending tokens get their own, and their own audience. */
const ACCESS_TYP = 'at+jwt';
const PENDING_TYP = 'pending-2fa+jwt';
/** No real token of ours comes near this; anything longer is refused before parsing. */
const MAX_TOKEN_LENGTH = 4096;

/** RFC 8176 method references: a password, then a code by SMS or by telephone call. */
export type SecondFactor = 'sms' | 'tel';

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

export class TokenService {
  private readonly pendingAudience: string;

  constructor(
    private readonly key: SigningKey,
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {
    this.pendingAudience = `${settings.audience}:pending-2fa`;
  }

  jwks(): { keys: object[] } {
    return { keys: [this.key.publicJwk] };
  }

  /** A pending token is only a pointer to its challenge (`jti`); the challenge holds the state. */
  issuePending(input: { userId: string; challengeId: string; expiresAt: Date }): Promise<string> {
    return this.sign(PENDING_TYP, this.pendingAudience, input.userId, input.challengeId, input.expiresAt, {});
  }

  async issueAccess(input: { userId: string; secondFactor: SecondFactor }): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = addSeconds(this.now(), this.settings.accessTokenTtlSeconds);
    const amr = ['pwd', input.secondFactor];
    const token = await this.sign(ACCESS_TYP, this.settings.audience, input.userId, randomUUID(), expiresAt, { amr });
    return { token, expiresAt };
  }

  async verifyPending(token: string): Promise<{ userId: string; challengeId: string }> {
    const payload = await this.verify(token, PENDING_TYP, this.pendingAudience);
    return { userId: payload.sub!, challengeId: payload.jti! };
  }

  async verifyAccess(token: string): Promise<{ userId: string }> {
    const payload = await this.verify(token, ACCESS_TYP, this.settings.audience);
    return { userId: payload.sub! };
  }

  private now(): Date {
    // JWT times are whole seconds; truncating keeps `expiresAt` equal to the token's `exp`.
    return new Date(Math.floor(this.clock.now().getTime() / 1000) * 1000);
  }

  private sign(typ: string, audience: string, sub: string, jti: string, expiresAt: Date, claims: JWTPayload) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ })
      .setIssuer(this.settings.issuer)
      .setAudience(audience)
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt(this.now())
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.key.privateKey);
  }

  /** Every failure is the same UNAUTHENTICATED to the client; the cause is kept for the log. */
  private async verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new AppError('UNAUTHENTICATED');
    }
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.key.publicKey, {
        algorithms: [this.key.alg],
        issuer: this.settings.issuer,
        audience,
        typ,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        currentDate: this.clock.now(),
      });
      if (protectedHeader.kid !== this.key.kid) throw new Error('unknown kid');
      return payload;
    } catch (cause) {
      throw new AppError('UNAUTHENTICATED', { cause });
    }
  }
}
