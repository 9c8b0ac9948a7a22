import { AppError } from '../errors/app-error';

/**
 * The port the OTP flow needs from a code provider. SinchGateway is the implementation; its errors
 * arrive already as AppErrors with contract codes, so nothing here knows Sinch's wire format.
 */
export type ProviderMethod = 'sms' | 'callout';

export type ReportOutcome = { kind: 'verified' } | { kind: 'wrong_code' } | { kind: 'expired' };

export interface OtpProvider {
  /** `locale` (BCP 47) asks for the SMS language; the answer's `locale` is the one used, null when not said. */
  start(input: {
    phoneNumber: string;
    method: ProviderMethod;
    reference: string;
    codeTtlSeconds: number;
    locale?: string;
  }): Promise<{ id: string; locale: string | null }>;
  report(input: { id: string; method: ProviderMethod; code: string }): Promise<ReportOutcome>;
}

/**
 * What the provider's callbacks tell the OTP flow (issue: signed Sinch callbacks). The Sinch
 * callback handler verifies and parses the events, then calls these; nothing here knows the
 * wire format. `reference` is the one `OtpProvider.start` was given.
 */
export interface ProviderEvents {
  /** A verification is about to start: allow it only for a live send of ours, to that number, by that method. */
  mayStart(input: { reference: string; phoneNumber: string; method: ProviderMethod }): Promise<boolean>;
  /** The code never reached the phone (SMS not delivered, number unreachable, denied). */
  deliveryFailed(input: { reference?: string; verificationId: string }): Promise<void>;
}

/**
 * A start whose fate is unknown (timed out, connection lost, and Sinch could not be asked): the
 * code may have gone out, so the send is not given back to the per-number budgets.
 */
export class SendOutcomeUnknown extends AppError {
  constructor(options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super('PROVIDER_UNAVAILABLE', {
      extensions: options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds },
      cause: options.cause,
    });
    this.name = 'SendOutcomeUnknown';
  }
}
