import { isEmail } from 'class-validator';
import { badInput } from '../errors/app-error';
import { hasInvisibleOrControl } from './text';

/** RFC 5321's limit on a path, which bounds any address that can receive mail. */
export const MAX_EMAIL_LENGTH = 254;

/**
 * Trimmed and NFC-normalized, case kept as typed (uniqueness is case-insensitive in the database).
 * Returns undefined when the address is not acceptable, so login can treat it as unknown.
 */
export function normalizeEmail(raw: string): string | undefined {
  const email = raw.trim().normalize('NFC');
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH || hasInvisibleOrControl(email)) return undefined;
  if (!isEmail(email, { allow_ip_domain: false, require_tld: true, allow_utf8_local_part: true })) return undefined;
  return email;
}

/** Register-time check: BAD_USER_INPUT with `field: "email"`. */
export function requireEmail(raw: string): string {
  const email = normalizeEmail(raw);
  if (!email) throw badInput('email', 'Enter a valid email address.');
  return email;
}

/**
 * The one comparison form of an address: the account lookup, the uniqueness of accounts and the
 * per-email limiter all use it, computed here, in JavaScript (PostgreSQL's lower() and JavaScript's
 * disagree on İ and on the Greek final sigma, which once gave one address several limiter buckets).
 * Lower case, with the final sigma folded into σ so that ΟΔΟΣ, οδος and οδοσ are one address.
 */
export function canonicalEmail(normalized: string): string {
  return normalized.toLowerCase().replace(/ς/g, 'σ');
}

/**
 * What login reads of the email a client typed: the address (undefined when it is not one, so that
 * login treats it as unknown) and the per-email limiter's key, which malformed input gets too
 * (unknown addresses are counted alike): the canonical form of the address, else of the trimmed text.
 */
export function loginEmail(raw: string): { email: string | undefined; key: string } {
  const email = normalizeEmail(raw);
  return { email, key: canonicalEmail(email ?? raw.trim()) };
}
