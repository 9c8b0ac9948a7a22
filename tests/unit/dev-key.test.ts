import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateDevKey } from '../../src/tokens/signing-key';

describe('the development key under the data folder', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const scratch = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-key-'));
    dirs.push(dir);
    return dir;
  };

  it('is one key for replicas that start together on one data folder', async () => {
    const dir = await scratch();
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDevKey(dir)));
    expect(new Set(keys.map((key) => key.kid)).size).toBe(1);
    expect(await readdir(dir)).toEqual(['jwt-private-key.pem']); // no temporary file left behind
    expect((await loadOrCreateDevKey(dir)).kid).toBe(keys[0].kid);
  });

  // Regression: the key was written in place, so a start that read it while another was still
  // writing it (or after one was killed mid-write) found an empty file and failed to start.
  it('takes an empty key file for one still being written, not for a key', async () => {
    const dir = await scratch();
    await writeFile(path.join(dir, 'jwt-private-key.pem'), '', { mode: 0o600 });
    const key = await loadOrCreateDevKey(dir);
    expect((await loadOrCreateDevKey(dir)).kid).toBe(key.kid);
  });
});
