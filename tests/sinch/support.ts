import { createLogger, type Logger } from '../../src/logging/logger';

/** A real pino logger whose lines are kept, to assert on what was (and was not) logged. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines, text: () => lines.map((line) => JSON.stringify(line)).join('\n') };
}

/** A clock tests move by hand; never sleep to pass time. */
export function manualClock(start = '2026-01-15T10:00:00.000Z') {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    advance(seconds: number) {
      now = new Date(now.getTime() + seconds * 1000);
    },
  };
}

export const APP_KEY = '5f5c418a-0f91-4bbc-8234-a9bf5eddad97';
export const APP_SECRET = 'JViE5vDor0Sw3WllZka15Q==';
