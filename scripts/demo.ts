// npm run demo: the service (embedded PostgreSQL, Sinch emulator) and the demo SPA on another
// origin, in one process. Codes appear in this log. Ctrl-C stops both.
import 'reflect-metadata';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/logging/logger';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const app = await startApp(config, { logger });
  // The SPA reads VITE_* variables at start: this one points it at the API, on another origin.
  process.env.VITE_API_URL = app.url;
  const { createServer } = await import('vite');
  const vite = await createServer({ configFile: 'demo/vite.config.ts', server: { port: Number(process.env.DEMO_PORT ?? 5173), host: 'localhost' } });
  await vite.listen();
  const demoUrl = vite.resolvedUrls?.local[0] ?? 'http://localhost:5173/';
  logger.info(`Demo ready at ${demoUrl} (API at ${app.url}; codes appear in this log)`);
  const stop = async () => {
    await vite.close();
    await app.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
