/**
 * The service as the bench runs it: `npm start`'s main.ts minus its signal handling, in a child
 * process of bench/run.ts (node --expose-gc -r @swc-node/register), so that its CPU time and heap
 * are measured alone. Configuration comes from the environment exactly as in `npm start`
 * (loadConfig); bench/run.ts sets it (see serviceEnv there). Logs go to stdout at LOG_LEVEL, which
 * the parent points at a file: the request log is part of what is measured.
 */
import 'reflect-metadata';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/logging/logger';
import { announceReady, serveParent } from './lib/child';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const app = await startApp(config, { logger });
  serveParent({ stop: () => app.stop() });
  announceReady({ url: app.url });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
