import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** What log lines, the pumping guard and the metrics read of a stored E.164 number. */
export interface E164Parts {
  countryCallingCode: string;
  nationalNumber: string;
}

const MAX_REMEMBERED = 10_000;
const remembered = new Map<string, E164Parts | null>();

/**
 * libphonenumber's split of a stored E.164 number into its country calling code and national
 * number, or null when it cannot parse it. One send reads the same number's parts several times
 * (the hint, log lines, the pumping statistics, the metrics) and a parse with the full metadata
 * is the costliest part of each: the parts of the last 10,000 numbers are remembered (a pure
 * function of the string; forgotten all at once when full).
 */
export function e164Parts(e164: string): E164Parts | null {
  const known = remembered.get(e164);
  if (known !== undefined) return known;
  const parsed = parsePhoneNumberFromString(e164);
  const parts = parsed ? { countryCallingCode: parsed.countryCallingCode, nationalNumber: String(parsed.nationalNumber) } : null;
  // Only what can be a stored number (E.164 has at most 15 digits): nothing else is worth keeping.
  if (e164.length <= 16) {
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(e164, parts);
  }
  return parts;
}
