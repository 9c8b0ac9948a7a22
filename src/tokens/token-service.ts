import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { AppError } from '../errors/app-error';
import { addSeconds, earliest, type Clock, wholeSeconds } from '../time/clock';
import { isUuid } from '../validation/text';
import { signCompact } from './compact-jws';
import type { SigningKey, VerificationKey } from './signing-key';

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

/** A pending token's claims: whose challenge, which one, and what for. */
export interface PendingClaims {
  userId: string;
  challengeId: string;
  purpose: string;
}

/** What an access token stands for: a user, in a session, with how and when they proved it. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
  amr: string[];
  /** When the second factor was last proven in the session (`auth_time`). */
  authTime: Date;
}

/**
 * Tokens of each kind remembered as verified (about 1 KiB each with their claims): enough for the
 * tokens in use at once (a pending token is used within a minute or two of its login), not a
 * cache of every token; one forgotten is checked again (~0.1 ms).
 */
const VERIFIED_TOKENS_KEPT = 2_000;

/**
 * Tokens verified before (and pending tokens signed here), until they expire: a client presents
 * the same token again (an access token on every request, a pending token at each step of its
 * sign-in), and the answer for the same bytes cannot change while this process's keys do not (they
 * change only at a restart). Saves the signature check; what the token points at (session,
 * challenge) is still read every time. When full, the least recently used leaves first.
 */
class VerifiedTokens<Claims> {
  private readonly entries = new Map<string, { claims: Claims; expiresAtMs: number }>();

  constructor(private readonly clock: Clock) {}

  async verify(token: string, verify: (token: string) => Promise<{ claims: Claims; expiresAtMs: number }>): Promise<Claims> {
    const known = this.entries.get(token);
    if (known && this.clock.now().getTime() < known.expiresAtMs) {
      this.remember(token, known);
      return known.claims;
    }
    const verified = await verify(token);
    this.remember(token, verified);
    return verified.claims;
  }

  /**
   * As the most recently used (a Map keeps insertion order): a token just verified or used again,
   * or one this process has just signed (a pending token: its next step comes at once), whose
   * first use then skips the check as well.
   */
  remember(token: string, verified: { claims: Claims; expiresAtMs: number }): void {
    this.entries.delete(token);
    if (this.entries.size >= VERIFIED_TOKENS_KEPT) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, verified);
  }
}

/**
 * Signs with one key and verifies with it and the verification keys (tokens signed before a key
 * rotation keep working until they expire). A token is verified only with the key its `kid` names.
 */
export class TokenService {
  private readonly pendingAudience: string;
  private readonly keys = new Map<string, VerificationKey>();
  private readonly verifiedAccess: VerifiedTokens<AccessClaims>;
  private readonly verifiedPending: VerifiedTokens<PendingClaims>;

  constructor(
    private readonly signingKey: SigningKey,
    verificationKeys: VerificationKey[],
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {
    this.pendingAudience = `${settings.audience}:pending-2fa`;
    this.verifiedAccess = new VerifiedTokens(clock);
    this.verifiedPending = new VerifiedTokens(clock);
    for (const key of [signingKey, ...verificationKeys]) {
      const known = this.keys.get(key.kid);
      if (known && !known.publicKey.equals(key.publicKey)) throw new Error(`two different JWT keys share the kid "${key.kid}"`);
      if (!known) this.keys.set(key.kid, key);
    }
  }

  /** The public keys: the signing key first, then the verification keys. */
  jwks(): { keys: object[] } {
    return { keys: [...this.keys.values()].map((key) => key.publicJwk) };
  }

  /**
   * A pending token is only a pointer to its challenge (`jti`), which holds the state; `purpose`
   * says what it is for (sign-in, step-up, phone change), checked against the challenge on use.
   */
  issuePending(input: { userId: string; challengeId: string; expiresAt: Date; purpose: string }): string {
    const { userId, challengeId, expiresAt, purpose } = input;
    const token = this.sign(PENDING_TYP, this.pendingAudience, userId, challengeId, expiresAt, { purpose });
    this.verifiedPending.remember(token, { claims: Object.freeze({ userId, challengeId, purpose }), expiresAtMs: expiryMs(expiresAt) });
    return token;
  }

  /** Lives the access lifetime, but never past `notAfter` (the session's end). */
  issueAccess(claims: AccessClaims, notAfter: Date): { token: string; expiresAt: Date } {
    const lifetimeEnd = addSeconds(this.now(), this.settings.accessTokenTtlSeconds);
    const expiresAt = wholeSeconds(earliest(lifetimeEnd, notAfter));
    // Not remembered as verified here: an access token is checked on its first use (many are never
    // used by this process), so the memo holds only tokens in use.
    const token = this.sign(ACCESS_TYP, this.settings.audience, claims.userId, randomUUID(), expiresAt, {
      sid: claims.sessionId,
      auth_time: Math.floor(claims.authTime.getTime() / 1000),
      amr: claims.amr,
    });
    return { token, expiresAt };
  }

  verifyPending(token: string): Promise<PendingClaims> {
    return this.verifiedPending.verify(token, (bytes) => this.verifyPendingSignature(bytes));
  }

  verifyAccess(token: string): Promise<AccessClaims> {
    return this.verifiedAccess.verify(token, (bytes) => this.verifyAccessSignature(bytes));
  }

  private async verifyPendingSignature(token: string): Promise<{ claims: PendingClaims; expiresAtMs: number }> {
    const { sub, jti, purpose, exp } = await this.verify(token, PENDING_TYP, this.pendingAudience);
    if (!isUuid(sub) || !isUuid(jti) || typeof purpose !== 'string') {
      throw new AppError('UNAUTHENTICATED', { cause: new Error('claims of the wrong shape') });
    }
    return { claims: Object.freeze({ userId: sub, challengeId: jti, purpose }), expiresAtMs: (exp as number) * 1000 };
  }

  private async verifyAccessSignature(token: string): Promise<{ claims: AccessClaims; expiresAtMs: number }> {
    const { sub, sid, auth_time: authTime, amr, exp } = await this.verify(token, ACCESS_TYP, this.settings.audience);
    // A well-signed token is still checked for shape: its claims become database parameters.
    const wellFormed =
      isUuid(sub) &&
      isUuid(sid) &&
      Number.isSafeInteger(authTime) &&
      (authTime as number) >= 0 &&
      Array.isArray(amr) &&
      amr.every((method) => typeof method === 'string');
    if (!wellFormed) throw new AppError('UNAUTHENTICATED', { cause: new Error('claims of the wrong shape') });
    const claims = Object.freeze({ userId: sub, sessionId: sid, amr: amr as string[], authTime: new Date((authTime as number) * 1000) });
    return { claims, expiresAtMs: (exp as number) * 1000 };
  }

  private now(): Date {
    return wholeSeconds(this.clock.now());
  }

  private sign(typ: string, audience: string, sub: string, jti: string, expiresAt: Date, claims: JWTPayload): string {
    const { alg, kid, privateKey } = this.signingKey;
    const iat = this.now().getTime() / 1000;
    return signCompact(
      alg,
      privateKey,
      { kid, typ },
      { ...claims, iss: this.settings.issuer, aud: audience, sub, jti, iat, exp: expiryMs(expiresAt) / 1000 },
    );
  }

  /** Every failure is the same UNAUTHENTICATED to the client; the cause is kept for the log. */
  private async verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new AppError('UNAUTHENTICATED');
    }
    if (!isCanonicalCompact(token)) throw new AppError('UNAUTHENTICATED', { cause: new Error('not a canonical compact JWS') });
    try {
      const { payload } = await jwtVerify(token, (header) => this.keyFor(header), {
        algorithms: ['EdDSA', 'ES256'],
        issuer: this.settings.issuer,
        audience,
        typ,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        currentDate: this.clock.now(),
      });
      // jose accepts an `iat` in the future; a token we issued never has one.
      if ((payload.iat as number) > this.clock.now().getTime() / 1000 + 60) throw new Error('issued in the future');
      return payload;
    } catch (cause) {
      throw new AppError('UNAUTHENTICATED', { cause });
    }
  }

  /** Only the key the token names, and only with that key's own algorithm. */
  private keyFor(header: JWTHeaderParameters) {
    const key = header.kid === undefined ? undefined : this.keys.get(header.kid);
    if (!key || key.alg !== header.alg) throw new joseErrors.JWKSNoMatchingKey();
    return key.publicKey;
  }
}

/**
 * Three base64url segments, each exactly as it encodes again (no padding, no stray bits in the last
 * character): jose decodes leniently, so the same signed token had other spellings that verified
 * too (attack review: `==` appended to the signature). One token, one string, for anything that
 * compares tokens as strings (the verified-token memo, a client's or a proxy's deny list).
 */
export function isCanonicalCompact(token: string): boolean {
  const segments = token.split('.');
  return (
    segments.length === 3 &&
    segments.every((segment) => BASE64URL.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment)
  );
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A token's `exp` (whole seconds), in milliseconds. */
function expiryMs(expiresAt: Date): number {
  return Math.floor(expiresAt.getTime() / 1000) * 1000;
}
