import pino, { type Logger } from 'pino';
import { currentRequestId } from '../context/request-scope';

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
 * Quoted literals in an error's text become `'…'`. Database errors quote the statement they failed
 * on, values included (a new phone number, an email): the log keeps the statement's shape only.
 */
export function maskLiterals(text: string): string {
  return text.replace(/'(?:[^']|'')*'/g, "'…'").replace(/\(([^()]*)\)=\(([^()]*)\)/g, '($1)=(…)');
}

/** pino's error serializer, with every text field masked (see maskLiterals). */
function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (!serialized || typeof serialized !== 'object') return serialized;
  for (const [key, value] of Object.entries(serialized)) {
    if (typeof value === 'string') serialized[key] = maskLiterals(value);
    // The ORM keeps the bound values beside the statement.
    if (key === 'params' || key === 'parameters' || key === 'values') serialized[key] = '[redacted]';
  }
  return serialized;
}

/**
 * Writes without blocking the event loop: lines that arrive while a write is under way go out
 * together in the next one (one system call for many under load). `flushLogs` before exiting.
 */
function standardOutput(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const paths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
  return pino(
    {
      level: options.level,
      serializers: { err: serializeError },
      redact: { paths, censor: '[redacted]' },
      base: { service: 'sinch-2fa' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The request being served, for every line written while serving it: services and the Sinch
      // gateway log through the root logger and still carry the request id.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
    },
    options.destination ?? standardOutput(),
  );
}

/** Waits until every line written so far has reached its destination (before `process.exit`). */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/**
 * The one-line-per-request log: its fields are fixed and hold no secret (method, path without the
 * query, status, duration, request id), so it skips redaction, which would cost more than the
 * rest of a cheap request's logging.
 */
export function accessLog(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}
