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
