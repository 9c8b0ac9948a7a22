import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { OtpProvider, ProviderMethod, ReportOutcome } from '../otp/otp-provider';
import type { Clock } from '../time/clock';

/** `OTP_TEST_NUMBERS`: numbers with a fixed code, for app-store review and staging, until a date. */
export interface TestNumbersConfig {
  /** E.164 → its fixed code. */
  codes: Record<string, string>;
  /** They stop working at this instant. */
  until: Date;
}

const TEST_ID = /^test:(\+[1-9]\d{6,14}):[0-9a-f-]{36}$/;

/**
 * Numbers that never reach Sinch and accept only their fixed code, until the configured date.
 * Everything else about them is ordinary: the number policy aside (a test number may be a
 * fictional one, like +1 555 555 0100), every limit applies, since the OTP flow counts sends and
 * guesses before it asks the provider.
 */
export class TestNumbers {
  constructor(
    private readonly config: TestNumbersConfig | undefined,
    private readonly clock: Clock,
  ) {}

  get count(): number {
    return this.config ? Object.keys(this.config.codes).length : 0;
  }

  /** The fixed code of a test number still in force, else undefined. */
  codeFor(e164: string): string | undefined {
    if (!this.config || this.clock.now() >= this.config.until) return undefined;
    return Object.hasOwn(this.config.codes, e164) ? this.config.codes[e164] : undefined;
  }

  /** The provider in front of the real one: test numbers are answered here, all others pass through. */
  provider(real: OtpProvider): OtpProvider {
    return {
      start: async (input) => {
        if (this.codeFor(input.phoneNumber) === undefined) return real.start(input);
        return { id: `test:${input.phoneNumber}:${randomUUID()}`, locale: null };
      },
      report: async (input: { id: string; method: ProviderMethod; code: string }): Promise<ReportOutcome> => {
        const test = TEST_ID.exec(input.id);
        if (!test) return real.report(input);
        const code = this.codeFor(test[1]);
        // Past the date, a code sent while the number was a test number is no longer accepted.
        if (code === undefined) return { kind: 'expired' };
        const given = Buffer.from(input.code);
        const expected = Buffer.from(code);
        return given.length === expected.length && timingSafeEqual(given, expected) ? { kind: 'verified' } : { kind: 'wrong_code' };
      },
    };
  }
}
