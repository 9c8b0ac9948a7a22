/**
 * The contract's error codes (../shared/CONTRACT.md, "Errors"), each with the message a client
 * may show. Code below the resolvers throws `AppError(code)`; the GraphQL formatter turns it into
 * `extensions.code` and masks everything that is not an AppError.
 */
export const ERROR_MESSAGES = {
  BAD_USER_INPUT: 'The input is not valid.',
  EMAIL_ALREADY_REGISTERED: 'An account with this email address already exists.',
  INVALID_CREDENTIALS: 'The email address or the password is wrong.',
  UNAUTHENTICATED: 'The token is missing, invalid or expired.',
  PHONE_NUMBER_NOT_ALLOWED: 'Codes cannot be sent to this phone number.',
  RATE_LIMITED: 'Too many requests. Try again later.',
  OTP_NOT_REQUESTED: 'No code has been sent yet. Request one first.',
  OTP_INVALID: 'The code is wrong.',
  OTP_EXPIRED: 'The code has expired. Request a new one.',
  OTP_ATTEMPTS_EXCEEDED: 'Too many wrong codes. Log in again.',
  OTP_DELIVERY_FAILED: 'The code could not be delivered to this phone number.',
  PROVIDER_UNAVAILABLE: 'The verification provider is unavailable. Try again later.',
  REAUTHENTICATION_REQUIRED: 'Confirm it is you: verify a code again (reauthenticate) and retry.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side.',
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** Extra `extensions` a code may carry (see the contract's table). */
export interface ErrorExtensions {
  field?: string;
  retryAfterSeconds?: number;
  attemptsRemaining?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly extensions: ErrorExtensions;

  /**
   * @param message shown to the client; defaults to the code's public message. Never put
   *   internal detail here: pass it as `cause`, which is logged and never shown.
   */
  constructor(code: ErrorCode, options: { message?: string; extensions?: ErrorExtensions; cause?: unknown } = {}) {
    super(options.message ?? ERROR_MESSAGES[code], { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.extensions = options.extensions ?? {};
  }
}

export function badInput(field: string, message: string): AppError {
  return new AppError('BAD_USER_INPUT', { message, extensions: { field } });
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}
