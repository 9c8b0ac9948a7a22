import { badInput } from '../errors/app-error';
import { utf8Length } from '../validation/text';

export const MIN_PASSWORD_CHARS = 8;
/** bcrypt reads only the first 72 bytes: longer passwords are refused, never truncated. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * NFKC, as NIST SP 800-63B advises, so the same password typed on two keyboards (composed or
 * decomposed accents, full-width digits) hashes the same. Applied at register and login alike.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Rules for a new password (register, changePassword); throws BAD_USER_INPUT naming `field`. */
export function checkNewPassword(normalized: string, field = 'password'): void {
  if ([...normalized].length < MIN_PASSWORD_CHARS) {
    throw badInput(field, `The password must have at least ${MIN_PASSWORD_CHARS} characters.`);
  }
  if (utf8Length(normalized) > MAX_PASSWORD_BYTES) {
    throw badInput(field, `The password must be at most ${MAX_PASSWORD_BYTES} bytes long in UTF-8.`);
  }
  if (normalized.includes('\0')) {
    throw badInput(field, 'The password must not contain a null character.');
  }
  if (normalized.trim().length === 0) {
    throw badInput(field, 'The password must not be only spaces.');
  }
}
