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
