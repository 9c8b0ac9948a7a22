import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server where each test file creates (and drops) a database of its own. */
    databaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: the server named by DATABASE_URL, or else an embedded one
 * in a temporary folder (the same code path `npm start` uses).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL?.trim();
  if (external) {
    project.provide('databaseUrl', external);
    return async () => {};
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-test-'));
  await chmod(dir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir: dir, logger: pino({ level: 'silent' }) });
  project.provide('databaseUrl', db.url);
  return async () => {
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
