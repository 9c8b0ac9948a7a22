import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { EmulatedVerification } from './store';

/** Sinch's answer bodies (facts doc sections 3 and 4), built from the emulator's state. */

export const PRICE = { sms: 0.0453, whatsapp: 0.0453, callout: 0.1852, flashcall: 0.0205 } as const;

/** Sinch writes UTC without a zone suffix, with 7 fractional digits: `2024-05-22T09:38:59.5590437`. */
export function sinchTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '0000');
}

function secondsLeft(verification: EmulatedVerification, now: Date): number {
  return Math.max(0, Math.round((verification.expiresAt.getTime() - now.getTime()) / 1000));
}

/** `origin` is where the request came in: Sinch's links point at the data centre that answered. */
export function startResponse(verification: EmulatedVerification, origin: string, now: Date): Record<string, unknown> {
  const href = `${origin}/verification/v1/verifications/id/${verification.id}`;
  const links = [
    { rel: 'status', href, method: 'GET' },
    { rel: 'report', href, method: 'PUT' },
  ];
  // A start that ended before its answer (its callback refused it) says so, as Sinch does.
  const base = {
    id: verification.id,
    method: verification.method,
    ...(verification.status === 'PENDING' ? {} : { status: verification.status, reason: verification.reason }),
  };
  switch (verification.method) {
    case 'sms':
      return {
        ...base,
        sms: {
          template: 'Your verification code is {{CODE}}.',
          interceptionTimeout: secondsLeft(verification, now),
          codeType: verification.codeType,
        },
        _links: links,
      };
    case 'whatsapp':
      return { ...base, whatsapp: { codeType: verification.codeType }, _links: links };
    case 'flashcall':
      return {
        ...base,
        flashCall: {
          cliFilter: `(.*)${verification.secret.slice(-4)}(.*)`,
          interceptionTimeout: verification.interceptionTimeoutSeconds,
          reportTimeout: secondsLeft(verification, now),
          denyCallAfter: 0,
        },
        _links: links,
      };
    case 'callout':
      return { ...base, _links: links };
  }
}

export function reportResponse(verification: EmulatedVerification): Record<string, unknown> {
  return {
    id: verification.id,
    method: verification.method,
    status: verification.status,
    ...(verification.reason === undefined ? {} : { reason: verification.reason }),
    ...(verification.reference === undefined ? {} : { reference: verification.reference }),
    ...(isCall(verification) ? { callComplete: verification.status !== 'PENDING' } : {}),
  };
}

export function statusResponse(verification: EmulatedVerification): Record<string, unknown> {
  const pending = verification.status === 'PENDING';
  const country = parsePhoneNumberFromString(verification.endpoint)?.country;
  const verificationPrice = { currencyId: 'EUR', amount: PRICE[verification.method] };
  return {
    ...reportResponse(verification),
    identity: { type: 'number', endpoint: verification.endpoint },
    ...(country === undefined ? {} : { countryId: country }),
    verificationTimestamp: sinchTimestamp(verification.createdAt),
    ...(verification.source === undefined ? {} : { source: verification.source }),
    // Sinch adds the price only once the verification has left PENDING.
    ...(pending
      ? {}
      : { price: isCall(verification) ? { verificationPrice, terminationPrice: { currencyId: 'EUR', amount: 0 } } : { verificationPrice } }),
    ...(isCall(verification) && !pending ? { callResult: 'ANSWERED' } : {}),
  };
}

function isCall(verification: EmulatedVerification): boolean {
  return verification.method === 'callout' || verification.method === 'flashcall';
}
