/**
 * The port the OTP flow needs from a code provider. SinchGateway is the implementation; its errors
 * arrive already as AppErrors with contract codes, so nothing here knows Sinch's wire format.
 */
export type ProviderMethod = 'sms' | 'callout';

export type ReportOutcome = { kind: 'verified' } | { kind: 'wrong_code' } | { kind: 'expired' };

export interface OtpProvider {
  start(input: { phoneNumber: string; method: ProviderMethod; reference: string; codeTtlSeconds: number }): Promise<{ id: string }>;
  report(input: { id: string; method: ProviderMethod; code: string }): Promise<ReportOutcome>;
}
