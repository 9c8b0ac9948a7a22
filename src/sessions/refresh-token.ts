import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: 43 characters, 256 bits. */
const SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Anything that is not of our shape (empty, oversized, other characters) cannot be one of ours. */
export function looksLikeRefreshToken(value: unknown): value is string {
  return typeof value === 'string' && SHAPE.test(value);
}
