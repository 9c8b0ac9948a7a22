import { e164Parts } from './e164-parts';

/**
 * `+447400123456` → `+44 *******56`: only the country calling code and the last two digits stay
 * readable. Used for the client's `phoneNumberHint` and for every log line that names a number.
 */
export function maskPhone(e164: string): string {
  const parsed = e164Parts(e164);
  const cc = parsed?.countryCallingCode ?? '';
  const national = parsed ? parsed.nationalNumber : e164.replace(/^\+/, '');
  const hidden = Math.max(national.length - 2, 0);
  return `+${cc} ${'*'.repeat(hidden)}${national.slice(hidden)}`.replace('+ ', '+');
}

/** `+447400123456` → `44`; the whole number's digits when it cannot be parsed. */
export function countryCallingCodeOf(e164: string): string {
  return e164Parts(e164)?.countryCallingCode ?? e164.replace(/^\+/, '');
}
