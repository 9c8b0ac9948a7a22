import { CombinedGraphQLErrors } from '@apollo/client/errors';

export interface ServiceError {
  code: string;
  message: string;
  field?: string;
}

/** What the user reads for each contract code (README, "For front-end developers"). */
export function describeError(error: unknown): ServiceError {
  if (!CombinedGraphQLErrors.is(error) || error.errors.length === 0) {
    return { code: 'NETWORK', message: 'The service cannot be reached. Check your connection and try again.' };
  }
  const first = error.errors[0];
  const extensions = (first.extensions ?? {}) as { code?: string; field?: string; retryAfterSeconds?: number; attemptsRemaining?: number };
  const code = extensions.code ?? 'INTERNAL_SERVER_ERROR';
  const wait = extensions.retryAfterSeconds;
  const messages: Record<string, string> = {
    BAD_USER_INPUT: first.message,
    EMAIL_ALREADY_REGISTERED: 'An account with this email already exists. Sign in instead.',
    INVALID_CREDENTIALS: 'The email or the password is wrong.',
    UNAUTHENTICATED: 'Your sign-in has expired. Please start again.',
    PHONE_NUMBER_NOT_ALLOWED: 'We cannot send codes to this phone number. Use a mobile number.',
    RATE_LIMITED: wait ? `Too many attempts. Try again in ${formatWait(wait)}.` : 'Too many attempts. Try again later.',
    OTP_NOT_REQUESTED: 'Ask for a code first.',
    OTP_INVALID: `That code is not right. ${plural(extensions.attemptsRemaining ?? 0, 'attempt')} left.`,
    OTP_EXPIRED: 'That code has expired. Ask for a new one.',
    OTP_ATTEMPTS_EXCEEDED: wait ? `Too many wrong codes. Try again in ${formatWait(wait)}.` : 'Too many wrong codes. Please sign in again.',
    OTP_DELIVERY_FAILED: 'The code could not be delivered. Try a call instead.',
    PROVIDER_UNAVAILABLE: 'Codes cannot be sent right now. Try again in a moment.',
    REAUTHENTICATION_REQUIRED: 'Please confirm it is you with a new code.',
  };
  return { code, field: extensions.field, message: messages[code] ?? 'Something went wrong on our side. Try again.' };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatWait(seconds: number): string {
  return seconds < 90 ? plural(seconds, 'second') : plural(Math.ceil(seconds / 60), 'minute');
}
