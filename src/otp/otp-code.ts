import { badInput } from '../errors/app-error';

/** Sinch's reportable code format: at most 10 characters of A-Z, a-z, 0-9. */
const CODE_PATTERN = /^[0-9A-Za-z]{4,10}$/;

/**
 * What a person pastes: spaces or dashes between digit groups, full-width digits from an IME.
 * Malformed input is refused without using up an attempt: it cannot be a right guess.
 */
export function normalizeCode(raw: string): string {
  const code = raw.normalize('NFKC').replace(/[\s-]/g, '');
  if (!CODE_PATTERN.test(code)) throw badInput('code', 'Enter the code you received: 4 to 10 letters or digits.');
  return code;
}
