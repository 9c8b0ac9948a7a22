import { invalidParameter, missingParameter, SinchApiFault } from './faults';
import type { CodeType, EmulatedMethod, StartRequest } from './store';

/**
 * Validation of request bodies as Sinch documents them (facts doc sections 2 and 4). Stricter
 * than Sinch is known to be in one place: unknown top-level fields are refused, as the OAS
 * declares (`additionalProperties: false`), so a gateway bug shows up here and not in production.
 */

/** Sinch gives no default expiry; our contract's code lifetime is 5 minutes. */
const DEFAULT_TTL_SECONDS = 300;
const FLASHCALL_DEFAULT_INTERCEPTION_SECONDS = 45;
/** Time allowed to report a flash call after it rang (Sinch's example: 45 → 75). */
const FLASHCALL_REPORT_GRACE_SECONDS = 30;

const START_FIELDS = new Set(['identity', 'method', 'reference', 'custom', 'smsOptions', 'flashCallOptions', 'calloutOptions', 'whatsappOptions']);
const CODE_TYPES: readonly CodeType[] = ['Numeric', 'Alpha', 'Alphanumeric'];

/** Accepts the legacy camel-case `flashCall`; answers always say `flashcall`. */
export function methodFrom(value: unknown): EmulatedMethod | 'seamless' | undefined {
  if (value === 'flashCall') return 'flashcall';
  return value === 'sms' || value === 'callout' || value === 'flashcall' || value === 'whatsapp' || value === 'seamless' ? value : undefined;
}

export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalidParameter('Request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidParameter('Request body must be a JSON object.');
  return value as Record<string, unknown>;
}

/** A number as Sinch wants it: E.164 with its `+`. Returns it unchanged. */
export function checkEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== 'string' || endpoint === '') throw missingParameter('Endpoint parameter is missing.');
  if (!endpoint.startsWith('+')) throw missingParameter('Phone number missing leading plus sign');
  if (!/^\+[1-9]\d{6,14}$/.test(endpoint)) throw invalidParameter(`Number ${endpoint} is invalid.`);
  return endpoint;
}

export function parseStartRequest(body: Record<string, unknown>): StartRequest {
  const unknown = Object.keys(body).find((key) => !START_FIELDS.has(key));
  if (unknown) throw invalidParameter(`Unrecognized field "${unknown}".`);
  const identity = body.identity;
  if (identity === undefined || identity === null) throw missingParameter('Identity parameter is missing.');
  if (typeof identity !== 'object') throw invalidParameter('Identity is invalid.');
  const { type, endpoint } = identity as Record<string, unknown>;
  if (type !== 'number') throw invalidParameter('Identity type must be "number".');
  const number = checkEndpoint(endpoint);

  const method = methodFrom(body.method);
  if (method === undefined) throw invalidParameter('Invalid verification method.');
  if (method === 'seamless') throw new SinchApiFault(403, 40300, 'Seamless verification not available for given destination.');
  const reference = optionalString(body.reference, 'reference');
  const custom = optionalString(body.custom, 'custom');
  if (custom !== undefined && custom.length > 4096) throw invalidParameter('Custom is longer than 4096 characters.');

  const base = { method, endpoint: number, reference, custom, codeType: 'Numeric' as CodeType, ttlSeconds: DEFAULT_TTL_SECONDS };
  if (method === 'sms') {
    const options = optionsObject(body.smsOptions, 'smsOptions');
    return { ...base, codeType: codeType(options.codeType), ttlSeconds: expirySeconds(options.expiry) };
  }
  if (method === 'whatsapp') return { ...base, codeType: codeType(optionsObject(body.whatsappOptions, 'whatsappOptions').codeType) };
  if (method === 'flashcall') {
    const options = optionsObject(body.flashCallOptions, 'flashCallOptions');
    const interception = rangedSeconds(options.interceptionTimeout, 'interceptionTimeout') ?? FLASHCALL_DEFAULT_INTERCEPTION_SECONDS;
    rangedSeconds(options.dialTimeout, 'dialTimeout');
    return { ...base, interceptionTimeoutSeconds: interception, ttlSeconds: interception + FLASHCALL_REPORT_GRACE_SECONDS };
  }
  optionsObject(body.calloutOptions, 'calloutOptions');
  return base;
}

/** `{ method, <method key>: { code } }`, or `{ cli }` under `flashCall` for a flash call. */
export function parseReportRequest(body: Record<string, unknown>): { method: EmulatedMethod; secret: string } {
  const method = methodFrom(body.method);
  if (method === undefined || method === 'seamless') throw invalidParameter('Invalid verification method.');
  if (method === 'flashcall') {
    const cli = (body.flashCall ?? body.flashcall) as Record<string, unknown> | undefined;
    if (typeof cli?.cli !== 'string' || cli.cli === '') throw missingParameter('CLI parameter is missing.');
    return { method, secret: cli.cli };
  }
  const code = (body[method] as Record<string, unknown> | undefined)?.code;
  if (typeof code !== 'string' || code === '') throw missingParameter('Code parameter is missing.');
  // Sinch's documented format (older errors page).
  if (!/^[A-Za-z0-9-]{1,10}$/.test(code)) {
    throw invalidParameter("Supplied code invalid format. Maximum 10 characters. Valid characters: A-Z, a-z, 0-9, '-'");
  }
  return { method, secret: code };
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`${name} must be a string.`);
  return value;
}

function optionsObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidParameter(`${name} must be an object.`);
  return value as Record<string, unknown>;
}

function codeType(value: unknown): CodeType {
  if (value === undefined) return 'Numeric';
  if (!CODE_TYPES.includes(value as CodeType)) throw invalidParameter('Invalid codeType.');
  return value as CodeType;
}

function expirySeconds(value: unknown): number {
  if (value === undefined) return DEFAULT_TTL_SECONDS;
  const match = typeof value === 'string' ? /^(\d{2}):([0-5]\d):([0-5]\d)$/.exec(value) : null;
  const seconds = match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : 0;
  if (seconds <= 0) throw invalidParameter('Invalid expiry, expected HH:MM:SS.');
  return seconds;
}

function rangedSeconds(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 5 || (value as number) > 120) {
    throw invalidParameter(`${name} must be an integer from 5 to 120.`);
  }
  return value as number;
}
