import {
  isSupportedCountry,
  parsePhoneNumberWithError,
  ParseError,
  type CountryCode,
  type NumberType,
  type PhoneNumber,
} from 'libphonenumber-js/max';
import { LRUCache } from 'lru-cache';
import { AppError, badInput } from '../errors/app-error';
import { hasInvisibleOrControl } from '../validation/text';
import type { TestNumbers } from './test-numbers';

export type Channel = 'SMS' | 'VOICE';

export interface AcceptedPhone {
  e164: string;
  country?: CountryCode;
  channels: Channel[];
}

/** Which channels each number type may receive (contract, "Phone numbers"); absent = refused. */
const CHANNELS_BY_TYPE: Partial<Record<NonNullable<NumberType>, Channel[]>> = {
  MOBILE: ['SMS', 'VOICE'],
  FIXED_LINE_OR_MOBILE: ['SMS', 'VOICE'],
  FIXED_LINE: ['VOICE'],
};

/** Longer than any real notation: refused before parsing. */
const MAX_INPUT_LENGTH = 40;
/**
 * What people write numbers with: digits of any script, spaces, + - . ( ) /, and a `tel:`
 * prefix. libphonenumber would otherwise pick digits out of any text ("+44'; drop..." → "+44").
 */
const PHONE_NOTATION = /^(?:tel:)?[\p{Nd}\s+\-.()/]+$/iu;

const TEST_NUMBER_CHANNELS: Channel[] = ['SMS', 'VOICE'];

export class PhonePolicy {
  /**
   * The channels of the numbers accepted or read last, by E.164: a pure function of the number
   * under this policy, and a parse with the full metadata (type and validity) is most of what
   * `channelsFor` costs at each login (about 0.15 ms of a login's CPU here). Test numbers are not
   * kept: theirs end on a date.
   */
  private readonly knownChannels = new LRUCache<string, Channel[]>({ max: 10_000 });

  constructor(
    private readonly options: { allowedCountries?: CountryCode[]; deniedCountries: CountryCode[] },
    /** Test numbers in force are accepted whatever their type (they may be fictional), by SMS and voice. */
    private readonly testNumbers?: TestNumbers,
  ) {}

  /**
   * Parses a number as a person may type it (any notation, `country` for numbers without +CC)
   * and applies the number-type and country policy. Input that is not a phone number at all is
   * BAD_USER_INPUT; a number that is not one we send to is PHONE_NUMBER_NOT_ALLOWED.
   */
  accept(raw: string, country?: string | null): AcceptedPhone {
    const region = this.parseRegion(country);
    // Full-width digits and plus (CJK keyboards) become ASCII; other scripts' digits are kept
    // for libphonenumber, which reads them.
    const input = raw.normalize('NFKC');
    if (input.length > MAX_INPUT_LENGTH || hasInvisibleOrControl(input) || !PHONE_NOTATION.test(input)) {
      throw badInput('phoneNumber', 'Enter a phone number, for example +44 7400 123456.');
    }
    let parsed: PhoneNumber;
    try {
      parsed = parsePhoneNumberWithError(input, { defaultCountry: region });
    } catch (error) {
      throw parseFailure(error);
    }
    if (this.testNumbers?.codeFor(parsed.number) !== undefined) return { e164: parsed.number, channels: TEST_NUMBER_CHANNELS };
    if (!parsed.isValid()) throw notAllowed('invalid number');
    // Non-geographic calling codes (satellite +881/+870, international networks +882/+883...) have
    // no country a deny list could name, and are classic toll-fraud destinations.
    if (!parsed.country) throw notAllowed('non-geographic number');
    const channels = CHANNELS_BY_TYPE[parsed.getType() ?? ('UNKNOWN' as NonNullable<NumberType>)];
    if (!channels) throw notAllowed(`number type ${parsed.getType() ?? 'unknown'}`);
    this.checkCountry(parsed.country);
    this.knownChannels.set(parsed.number, channels);
    return { e164: parsed.number, country: parsed.country, channels };
  }

  /**
   * Channels for a number already stored, under today's policy (it may have changed since the
   * number was accepted): what `accept` answers for it, remembered.
   */
  channelsFor(e164: string): Channel[] {
    if (this.testNumbers?.codeFor(e164) !== undefined) return TEST_NUMBER_CHANNELS;
    return this.knownChannels.get(e164) ?? this.accept(e164).channels;
  }

  private parseRegion(country?: string | null): CountryCode | undefined {
    if (country === undefined || country === null || country === '') return undefined;
    const upper = country.toUpperCase();
    if (!/^[A-Z]{2}$/.test(upper) || !isSupportedCountry(upper)) {
      throw badInput('country', 'Use an ISO 3166-1 alpha-2 country code, for example GB.');
    }
    return upper;
  }

  private checkCountry(country: CountryCode): void {
    const { allowedCountries, deniedCountries } = this.options;
    if (allowedCountries && !allowedCountries.includes(country)) throw notAllowed('country not allowed');
    if (deniedCountries.includes(country)) throw notAllowed('country denied');
  }
}

function notAllowed(reason: string): AppError {
  return new AppError('PHONE_NUMBER_NOT_ALLOWED', { cause: new Error(reason) });
}

function parseFailure(error: unknown): AppError {
  const reason = error instanceof ParseError ? error.message : 'unknown';
  switch (reason) {
    case 'INVALID_COUNTRY':
      return badInput('phoneNumber', 'Start the number with + and its country code, or give `country`.');
    case 'TOO_SHORT':
    case 'TOO_LONG':
    case 'INVALID_LENGTH':
      return notAllowed(reason);
    default:
      return badInput('phoneNumber', 'Enter a phone number, for example +44 7400 123456.');
  }
}
