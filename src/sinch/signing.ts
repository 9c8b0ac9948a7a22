import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Sinch request signing ("Application" scheme) and Basic auth, both directions: the gateway signs
 * what it sends, the emulator and the future callback endpoint verify what they receive.
 * Facts and test vectors: ../shared/sinch/verification-api.md, section 6.
 */

export type RawBody = Buffer | string | undefined;

/** Base64(MD5(exact body bytes)); "" for an absent or empty body, as every SDK does. */
export function contentMd5(body: RawBody): string {
  if (body === undefined || body.length === 0) return '';
  return createHash('md5').update(body).digest('base64');
}

export interface StringToSignParts {
  method: string;
  contentMd5: string;
  contentType: string;
  timestamp: string;
  path: string;
}

/** Always four `\n`: an empty MD5 or content type leaves its line empty, it does not remove it. */
export function stringToSign(parts: StringToSignParts): string {
  return [parts.method.toUpperCase(), parts.contentMd5, parts.contentType, `x-timestamp:${parts.timestamp}`, parts.path].join('\n');
}

/**
 * The secret is base64, but decoded leniently like the Node SDK (`Buffer.from(s, 'base64')`):
 * some SDK vectors use secrets such as `app-secret` that a strict decoder rejects.
 */
export function signature(toSign: string, applicationSecret: string): string {
  return createHmac('sha256', Buffer.from(applicationSecret, 'base64')).update(toSign, 'utf8').digest('base64');
}

export interface SignInput {
  method: string;
  path: string;
  contentType: string;
  timestamp: string;
  body: RawBody;
  applicationKey: string;
  applicationSecret: string;
}

/** The full `Authorization` value: `Application {key}:{signature}`. */
export function signedAuthorization(input: SignInput): string {
  const toSign = stringToSign({
    method: input.method,
    contentMd5: contentMd5(input.body),
    contentType: input.contentType,
    timestamp: input.timestamp,
    path: input.path,
  });
  return `Application ${input.applicationKey}:${signature(toSign, input.applicationSecret)}`;
}

/** The secret is the password as-is (not base64-decoded). */
export function basicAuthorization(applicationKey: string, applicationSecret: string): string {
  return `Basic ${Buffer.from(`${applicationKey}:${applicationSecret}`, 'utf8').toString('base64')}`;
}

/** Sinch's 401 error codes (section 5 of the facts doc). */
export const AUTH_ERRORS = {
  40100: 'Invalid authorization header',
  40101: 'X-Timestamp required',
  40102: 'Invalid signature',
  40107: 'Invalid authorization',
} as const;
export type AuthErrorCode = keyof typeof AUTH_ERRORS;

export type AuthVerification = { valid: true; scheme: 'signed' | 'basic' } | { valid: false; errorCode: AuthErrorCode; message: string };

export type HeaderBag = Record<string, string | string[] | undefined>;

export interface VerifyInput {
  method: string;
  /** The path exactly as received (literal `+` kept), without the query string. */
  path: string;
  headers: HeaderBag;
  rawBody: RawBody;
  applicationKey: string;
  applicationSecret: string;
  allowBasic: boolean;
  /** When set, an x-timestamp further than this from `now()` (either way) is refused as 40101. */
  maxTimestampSkewSeconds?: number;
  now?: () => Date;
}

/** Case-insensitive lookup; repeated headers count by their first value, like the Node SDK. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** Constant-time for equal lengths; a length mismatch only reveals the length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function fail(errorCode: AuthErrorCode): AuthVerification {
  return { valid: false, errorCode, message: AUTH_ERRORS[errorCode] };
}

export function verifyRequestAuthorization(input: VerifyInput): AuthVerification {
  const header = headerValue(input.headers, 'authorization');
  if (!header) return fail(40100);
  // Exactly one space between scheme and credentials, as the SDK validators require.
  const parts = header.split(' ');
  if (parts.length !== 2 || parts[1] === '') return fail(40100);
  const [scheme, credentials] = parts;
  switch (scheme.toLowerCase()) {
    case 'application':
      return verifySigned(input, credentials);
    case 'basic':
      return input.allowBasic ? verifyBasic(input, credentials) : fail(40107);
    default:
      return fail(40100);
  }
}

function verifySigned(input: VerifyInput, credentials: string): AuthVerification {
  const separator = credentials.indexOf(':');
  // `Application {key}` without a signature is Sinch's public (device) scheme: never accepted here.
  if (separator < 0) return fail(40107);
  const key = credentials.slice(0, separator);
  const given = credentials.slice(separator + 1);
  if (!safeEqual(key, input.applicationKey)) return fail(40107);

  const timestamp = headerValue(input.headers, 'x-timestamp');
  if (!timestamp) return fail(40101);
  if (input.maxTimestampSkewSeconds !== undefined && !timestampFresh(timestamp, input)) return fail(40101);

  const expected = signature(
    stringToSign({
      method: input.method,
      contentMd5: contentMd5(input.rawBody),
      contentType: headerValue(input.headers, 'content-type') ?? '',
      timestamp,
      path: input.path,
    }),
    input.applicationSecret,
  );
  return safeEqual(given, expected) ? { valid: true, scheme: 'signed' } : fail(40102);
}

function timestampFresh(timestamp: string, input: VerifyInput): boolean {
  const sent = Date.parse(timestamp);
  if (Number.isNaN(sent)) return false;
  const now = (input.now ?? (() => new Date()))().getTime();
  return Math.abs(now - sent) <= (input.maxTimestampSkewSeconds ?? 0) * 1000;
}

function verifyBasic(input: VerifyInput, credentials: string): AuthVerification {
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return fail(40100);
  // Both comparisons always run so the timing does not tell which half was wrong.
  const keyOk = safeEqual(decoded.slice(0, separator), input.applicationKey);
  const secretOk = safeEqual(decoded.slice(separator + 1), input.applicationSecret);
  return keyOk && secretOk ? { valid: true, scheme: 'basic' } : fail(40107);
}
