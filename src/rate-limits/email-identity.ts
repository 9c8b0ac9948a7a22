import { normalizeEmail } from '../validation/email';

/**
 * Folds harder than any database collation would (accents and dots dropped, then lower case):
 * `vİctİm@…`, `victim@…` and `VICTIM@…` share one bucket however the lookup compares them.
 * Over-grouping only makes the limit stricter.
 */
export function emailIdentity(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : '';
  return (normalizeEmail(text) ?? text.trim()).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}
