import { badInput } from '../errors/app-error';

/** A BCP 47 tag as people write them (`de-DE`, `pt-BR`, `zh-Hant-TW`): letters, digits, hyphens, no longer than this. */
const TAG = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;
const MAX_LENGTH = 35;

/** Canonical BCP 47 (`de-de` → `de-DE`), or BAD_USER_INPUT with `field` when it is not a language tag. */
export function requireLocale(raw: string, field = 'locale'): string {
  const refuse = () => badInput(field, 'Use a BCP 47 language tag, for example de-DE.');
  if (raw.length > MAX_LENGTH || !TAG.test(raw)) throw refuse();
  try {
    return Intl.getCanonicalLocales(raw)[0];
  } catch {
    throw refuse();
  }
}
