import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { LRUCache } from 'lru-cache';

/** What log lines, the pumping guard and the metrics read of a stored E.164 number. */
export interface E164Parts {
  countryCallingCode: string;
  nationalNumber: string;
}

/** null (cannot parse) is kept as `false`: the cache holds no null. */
const remembered = new LRUCache<string, E164Parts | false>({ max: 10_000 });

/**
 * libphonenumber's split of a stored E.164 number into its country calling code and national
 * number, or null when it cannot parse it. One send reads the same number's parts several times
 * (the hint, log lines, the pumping statistics, the metrics) and a parse with the full metadata
 * is the costliest part of each: the parts of the 10,000 numbers read last are remembered (a pure
 * function of the string).
 */
export function e164Parts(e164: string): E164Parts | null {
  const known = remembered.get(e164);
  if (known !== undefined) return known || null;
  const parsed = parsePhoneNumberFromString(e164);
  const parts = parsed ? { countryCallingCode: parsed.countryCallingCode, nationalNumber: String(parsed.nationalNumber) } : null;
  // Only what can be a stored number (E.164 has at most 15 digits): nothing else is worth keeping.
  if (e164.length <= 16) remembered.set(e164, parts ?? false);
  return parts;
}
