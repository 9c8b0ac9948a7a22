import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Field names that must never reach a log line, wherever they sit in a logged object.
 * Phone numbers are logged through `maskPhone` only.
 */
const REDACTED_KEYS = [
  'password',
  'code',
  'token',
  'pendingToken',
  'accessToken',
  'refreshToken',
  'authorization',
  'Authorization',
  'secret',
  'applicationSecret',
  'privateKey',
  'phoneNumber',
  'endpoint',
  'DATABASE_URL',
];

/**
 * The request being served, for every log line written while serving it: services and the Sinch
 * gateway log through the root logger and still carry the request id.
 */
export const logContext = new AsyncLocalStorage<{ requestId: string }>();

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const paths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
  return pino(
    {
      level: options.level,
      redact: { paths, censor: '[redacted]' },
      base: { service: 'sinch-2fa' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => logContext.getStore() ?? {},
    },
    options.destination,
  );
}
