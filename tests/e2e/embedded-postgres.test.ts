import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readOrCreateSecret, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { createLogger } from '../../src/logging/logger';

describe('the embedded PostgreSQL', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  const scratch = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-embedded-'));
    await chmod(dir, 0o755);
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  // Regression: a first start killed during initdb left PG_VERSION behind, and the broken cluster was trusted.
  it('makes a half-made cluster again instead of trusting it', async () => {
    const dataDir = await scratch();
    const clusterDir = path.join(dataDir, 'postgres');
    await mkdir(path.join(clusterDir, 'base'), { recursive: true });
    await writeFile(path.join(clusterDir, 'PG_VERSION'), '17\n'); // what initdb writes first
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    const db = await startEmbeddedPostgres({ dataDir, logger });
    cleanup.push(() => db.stop());
    expect(lines.some((line) => line.includes('left half-made by an interrupted first start'))).toBe(true);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    expect((await client.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    await client.end();
    expect(await readdir(clusterDir)).toContain('sinch-2fa-initialised');
  });

  // Regression: the password file was written in place: two first starts, or one killed mid-write, could disagree.
  it('creates its password file atomically: concurrent first starts agree on one secret', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'postgres.password');
    const secrets = await Promise.all(Array.from({ length: 12 }, () => readOrCreateSecret(file)));
    expect(new Set(secrets).size).toBe(1);
    expect((await readFile(file, 'utf8')).trim()).toBe(secrets[0]);
    expect(await readdir(dir)).toEqual(['postgres.password']); // no temporary file left behind
  });
});
