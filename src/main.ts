import { type Config, ConfigError, loadConfig } from './config/config';
import { createLogger, flushLogs } from './logging/logger';
import { type RunningApp, startApp } from './app';

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
  // Handlers first: a signal during start-up lets start-up finish, then stops all it started
  // (an embedded PostgreSQL must not be orphaned).
  let stopRequested = false;
  let app: RunningApp | undefined;
  // Log lines are written asynchronously: all of them out before the process ends.
  const exit = (stopping: Promise<void>) =>
    stopping
      .then(
        () => 0,
        () => 1,
      )
      .then(async (code) => {
        await flushLogs(logger);
        process.exit(code);
      });
  // The first signal drains (see src/http/drain.ts); a second one ends the drain's grace at once.
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      logger.info({ signal }, 'second stop signal: closing the listener now');
      return app?.skipDrainGrace();
    }
    stopRequested = true;
    logger.info({ signal }, 'shutting down');
    if (app) void exit(app.stop());
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  let started: RunningApp;
  try {
    started = await startApp(config, { logger });
  } catch (error) {
    logger.debug({ err: error }, 'start-up failed');
    logger.fatal(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await flushLogs(logger);
    process.exit(1);
  }
  app = started;
  if (stopRequested) {
    // Stopped before it was ever ready: no load balancer to wait for.
    app.skipDrainGrace();
    return void exit(app.stop());
  }
  logger.info(`GraphQL endpoint ready at ${app.url}`);
}

void main();
