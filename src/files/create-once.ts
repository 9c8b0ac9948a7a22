import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';

/**
 * A file's content (trimmed), created on first use atomically: written in full to a file of its
 * own, then linked into place, which fails if another start got there first (then its content is
 * the one). Instances starting together on one data folder all read the same content, never a
 * file another one has opened but not yet written; a start killed half-way leaves a stray
 * temporary file, never a partial one. An empty file (from before this was atomic) is replaced.
 */
export async function readOrCreateFile(file: string, create: () => string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, create(), { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    // EEXIST: another start won. Anything else: a bug of ours, not to be papered over.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (!(await readFile(file, 'utf8')).trim()) await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
  return (await readFile(file, 'utf8')).trim();
}
