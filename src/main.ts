import { type Config, ConfigError, loadConfig } from './config/config';
import { createLogger } from './logging/logger';
import { startApp } from './app';

/** `npm start`: validate the config, start everything, stop everything on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    process.exit(1);
  }
  const logger = createLogger({ level: config.logLevel });
  if (config.nodeEnv !== 'production') {
    if (!config.jwt.privateKey) logger.warn(`JWT_PRIVATE_KEY is not set: using a development key kept in ${config.dataDir}/`);
  }
  const app = await startApp(config, { logger }).catch((error: unknown) => {
    logger.fatal({ err: error }, `could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
  logger.info(`GraphQL endpoint ready at ${app.url}`);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

void main();
