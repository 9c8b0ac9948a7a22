import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '../../logging/logger';
import { SinchEmulator } from './server';

/**
 * Runs the emulator alone: `node -r @swc-node/register src/sinch/emulator/main.ts`.
 * Without SINCH_APPLICATION_KEY/SECRET it invents a pair and prints it once, so the service can
 * be pointed at it with the same three variables it uses for real Sinch.
 * With SINCH_EMULATOR_CALLBACK_URL (the service's callback endpoint, e.g.
 * http://localhost:4000/sinch/callbacks) it also sends Sinch's signed callbacks there, and a start
 * waits for the service to allow it, as at Sinch with a callback URL set in the dashboard.
 */
async function main(): Promise<void> {
  const env = (name: string) => (process.env[name] === '' ? undefined : process.env[name]);
  const port = Number(env('SINCH_EMULATOR_PORT') ?? 4010);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`SINCH_EMULATOR_PORT must be a port number, got ${env('SINCH_EMULATOR_PORT')}`);
  }
  const host = env('SINCH_EMULATOR_HOST') ?? '127.0.0.1';
  const given = env('SINCH_APPLICATION_KEY') !== undefined && env('SINCH_APPLICATION_SECRET') !== undefined;
  const applicationKey = given ? env('SINCH_APPLICATION_KEY')! : randomUUID();
  const applicationSecret = given ? env('SINCH_APPLICATION_SECRET')! : randomBytes(16).toString('base64');

  const callbackUrl = env('SINCH_EMULATOR_CALLBACK_URL');
  if (callbackUrl !== undefined && !/^https?:\/\/[^/]/.test(callbackUrl)) {
    throw new Error(`SINCH_EMULATOR_CALLBACK_URL must be an http(s) URL, got ${callbackUrl}`);
  }

  const logger = createLogger({ level: env('LOG_LEVEL') ?? 'info' });
  const emulator = new SinchEmulator({ applicationKey, applicationSecret, logger, callbackUrl });
  const baseUrl = await emulator.start(port, host);

  // Plain stdout, not the logger: the logger redacts secrets, and these are throwaway dev values.
  process.stdout.write(
    [
      '',
      'Sinch Verification emulator ready. Point the service at it with:',
      `  SINCH_BASE_URL=${baseUrl}`,
      `  SINCH_APPLICATION_KEY=${applicationKey}`,
      given ? '  SINCH_APPLICATION_SECRET=(the one you set)' : `  SINCH_APPLICATION_SECRET=${applicationSecret}`,
      callbackUrl ? `Signed callbacks go to ${callbackUrl}` : 'No callbacks (set SINCH_EMULATOR_CALLBACK_URL to send them).',
      '',
      '',
    ].join('\n'),
  );

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'Sinch emulator stopping');
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'Sinch emulator did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`Sinch emulator failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
