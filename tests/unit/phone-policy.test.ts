import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors/app-error';
import { PhonePolicy } from '../../src/phones/phone-policy';
import { maskPhone } from '../../src/phones/mask';
import { e164Parts } from '../../src/phones/e164-parts';
import { TestNumbers } from '../../src/phones/test-numbers';
import { TestClock } from '../support/test-clock';

const policy = new PhonePolicy({ deniedCountries: [] });

function errorOf(fn: () => unknown): { code?: string; field?: string } {
  try {
    fn();
  } catch (error) {
    if (isAppError(error)) return { code: error.code, field: error.extensions.field };
    throw error;
  }
  throw new Error('expected an error');
}

describe('PhonePolicy', () => {
  it.each([
    ['+44 7400 123456', undefined],
    ['+44 (0) 7400-123456', undefined],
    ['07400 123456', 'GB'],
    ['07400.123.456', 'gb'],
    ['0044 7400 123456', 'FR'],
    ['+４４７４００１２３４５６', undefined], // full-width digits
    ['＋４４ ７４００ １２３４５６', undefined], // full-width plus too
    ['tel:+447400123456', undefined],
  ])('accepts the mobile %s (country %s) as +447400123456 with SMS and VOICE', (input, country) => {
    expect(policy.accept(input, country)).toMatchObject({ e164: '+447400123456', channels: ['SMS', 'VOICE'] });
  });

  it('allows VOICE only to a fixed line', () => {
    expect(policy.accept('+44 20 7946 0000').channels).toEqual(['VOICE']);
  });

  it.each([
    ['+44 909 879 0000', 'premium rate'],
    ['+44 800 123 4567', 'toll free'],
    ['+44 56 1234 5678', 'VoIP'],
    ['+44 70 1234 5678', 'personal number'],
    ['+44 7623 123456', 'pager'],
    ['+44 55 1234 5678', 'UAN'],
    ['+1 555 000 0000', 'invalid'],
    ['+881 2 12345678', 'satellite (Iridium)'],
    ['+870 773 123456', 'satellite (Inmarsat)'],
    ['+8816 3 1234567', 'satellite'],
    ['+44 7400 12', 'too short'],
  ])('refuses %s (%s) with PHONE_NUMBER_NOT_ALLOWED', (input) => {
    expect(errorOf(() => policy.accept(input)).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
  });

  it.each([
    ['', 'phoneNumber'],
    ['hello', 'phoneNumber'],
    ['07400 123456', 'phoneNumber'], // national notation without a country
    ['+44 7400\u200b123456', 'phoneNumber'], // zero-width space
    ['+44 7400 123456\u0000', 'phoneNumber'],
    ['1'.repeat(100), 'phoneNumber'],
    ["+44'; drop table app_user;--", 'phoneNumber'],
    ['+44 7400 123456 ext. 12', 'phoneNumber'],
  ])('refuses %j as BAD_USER_INPUT on %s', (input, field) => {
    expect(errorOf(() => policy.accept(input))).toEqual({ code: 'BAD_USER_INPUT', field });
  });

  it.each(['XX', 'GBR', 'g', '12', 'ÖÖ'])('refuses the country %j as BAD_USER_INPUT on country', (country) => {
    expect(errorOf(() => policy.accept('+447400123456', country))).toEqual({ code: 'BAD_USER_INPUT', field: 'country' });
  });

  it('narrows by the configured allow and deny lists', () => {
    const onlyFr = new PhonePolicy({ allowedCountries: ['FR'], deniedCountries: [] });
    expect(errorOf(() => onlyFr.accept('+447400123456')).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    expect(onlyFr.accept('+33 6 12 34 56 78').e164).toBe('+33612345678');
    const noGb = new PhonePolicy({ deniedCountries: ['GB'] });
    expect(errorOf(() => noGb.accept('+447400123456')).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
  });

  it("answers a stored number's channels as accept does, the first time and when asked again", () => {
    const fresh = new PhonePolicy({ deniedCountries: [] });
    for (let round = 0; round < 2; round++) {
      expect(fresh.channelsFor('+447400123456')).toEqual(['SMS', 'VOICE']);
      expect(fresh.channelsFor('+442079460000')).toEqual(['VOICE']);
      expect(errorOf(() => fresh.channelsFor('+449098790000')).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
    }
    // What one policy answered is not another's: a number denied here after it was accepted there.
    policy.accept('+33 6 12 34 56 78');
    const noFr = new PhonePolicy({ deniedCountries: ['FR'] });
    expect(errorOf(() => noFr.channelsFor('+33612345678')).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
  });

  it("stops answering a test number's channels at its date, though it was asked before", () => {
    const clock = new TestClock(new Date('2026-12-01T00:00:00Z'));
    const until = new Date('2026-12-02T00:00:00Z');
    const fictional = '+15555550100';
    const withTests = new PhonePolicy({ deniedCountries: [] }, new TestNumbers({ codes: { [fictional]: '123456' }, until }, clock));
    expect(withTests.accept(fictional).channels).toEqual(['SMS', 'VOICE']);
    expect(withTests.channelsFor(fictional)).toEqual(['SMS', 'VOICE']);
    clock.advance(24 * 3600);
    expect(errorOf(() => withTests.channelsFor(fictional)).code).toBe('PHONE_NUMBER_NOT_ALLOWED');
  });
});

describe('maskPhone', () => {
  it('keeps the country calling code and the last two digits only', () => {
    expect(maskPhone('+447400123456')).toBe('+44 ********56');
    expect(maskPhone('+12025550123')).toBe('+1 ********23');
  });
});

describe('e164Parts', () => {
  it("answers libphonenumber's split, the same when asked again, and null for what it cannot parse", () => {
    expect(e164Parts('+447400123456')).toEqual({ countryCallingCode: '44', nationalNumber: '7400123456' });
    expect(e164Parts('+447400123456')).toEqual({ countryCallingCode: '44', nationalNumber: '7400123456' });
    expect(e164Parts('+12025550123')).toEqual({ countryCallingCode: '1', nationalNumber: '2025550123' });
    expect(e164Parts('not a number')).toBeNull();
    expect(maskPhone('not a number')).toBe('+**********er');
  });

  it('keeps answering right after forgetting what it remembered (more than 10,000 numbers)', () => {
    for (let i = 0; i < 10_050; i++) {
      const national = `7400${String(i).padStart(6, '0')}`;
      expect(e164Parts(`+44${national}`)?.nationalNumber).toBe(national);
    }
    expect(e164Parts('+12025550123')?.countryCallingCode).toBe('1');
  });
});
