/**
 * The Sinch emulator as the bench runs it: what src/sinch/emulator/main.ts does (the same
 * SinchEmulator, the same logger at LOG_LEVEL, the same optional SINCH_EMULATOR_CALLBACK_URL), in
 * a child process of bench/run.ts that also answers `{ op: 'code', phoneNumber }` with the newest
 * code sent to that number (emulator.lastCodeFor): main.ts has no way to read a code but its log,
 * where the number is masked. Both the service and the Express peer talk to it over HTTP.
 */
import { createLogger } from '../src/logging/logger';
import { SinchEmulator } from '../src/sinch/emulator/server';
import { announceReady, env, serveParent } from './lib/child';

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'info' });
  const emulator = new SinchEmulator({
    applicationKey: env('SINCH_APPLICATION_KEY'),
    applicationSecret: env('SINCH_APPLICATION_SECRET'),
    logger,
    callbackUrl: process.env.SINCH_EMULATOR_CALLBACK_URL || undefined,
  });
  const baseUrl = await emulator.start(Number(process.env.SINCH_EMULATOR_PORT || 0), '127.0.0.1');
  serveParent({
    stop: () => emulator.stop(),
    extra: (message) => (message.op === 'code' ? emulator.lastCodeFor(String(message.phoneNumber)) : undefined),
  });
  announceReady({ url: baseUrl });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
