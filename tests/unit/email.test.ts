import { describe, expect, it } from 'vitest';
import { loginEmail, MAX_EMAIL_LENGTH } from '../../src/validation/email';

describe('loginEmail', () => {
  it('reads an address as typed (trimmed, case kept) and keys it by its canonical form', () => {
    expect(loginEmail('  Ana@Example.COM ')).toEqual({ email: 'Ana@Example.COM', key: 'ana@example.com' });
  });

  it('gives the three spellings of one Greek address one key (final sigma folded)', () => {
    const keys = ['ΟΔΟΣ@example.com', 'οδος@example.com', 'οδοσ@example.com'].map((raw) => loginEmail(raw).key);
    expect(new Set(keys)).toEqual(new Set(['οδοσ@example.com']));
  });

  it('keys what is not an address too (unknown input is counted alike), with no address', () => {
    expect(loginEmail('  Not An Address ')).toEqual({ email: undefined, key: 'not an address' });
    expect(loginEmail('a@b')).toEqual({ email: undefined, key: 'a@b' });
    expect(loginEmail('')).toEqual({ email: undefined, key: '' });
    const long = `${'x'.repeat(MAX_EMAIL_LENGTH)}@example.com`;
    expect(loginEmail(long)).toEqual({ email: undefined, key: long });
  });

  it('refuses invisible and control characters as an address, whatever else it looks like', () => {
    expect(loginEmail('ana\u200b@example.com').email).toBeUndefined();
    expect(loginEmail('ana@example.com\u0000').email).toBeUndefined();
  });
});
