/**
 * Control, format (zero-width, bidi marks), line/paragraph separator and private-use characters:
 * invisible in a UI, so an identifier containing one could pass for another.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}]/u;

export function hasInvisibleOrControl(value: string): boolean {
  return INVISIBLE_OR_CONTROL.test(value);
}

export function utf8Length(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in tokens and inputs are checked before they reach a `uuid` column (which would refuse them with an error). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * Text from a request header, fit to store and show: decoded as UTF-8 (Node reads header bytes as
 * Latin-1) and without control characters (PostgreSQL refuses NUL in text).
 */
export function headerText(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value.join(', ') : value;
  if (raw === undefined) return undefined;
  const text = Buffer.from(raw, 'latin1')
    .toString('utf8')
    .replace(/\p{Cc}/gu, '')
    .trim();
  return text === '' ? undefined : text;
}

/** The first `max` characters (code points, so no surrogate pair is cut in half). */
export function firstCharacters(text: string, max: number): string {
  return Array.from(text).slice(0, max).join('');
}
