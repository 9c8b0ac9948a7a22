import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors/app-error';
import { PasswordHasher } from '../../src/passwords/password-hasher';
import { checkNewPassword, normalizePassword } from '../../src/passwords/password-rules';

describe('password rules', () => {
  it.each([
    ['short', 'at least 8'],
    ['a'.repeat(73), 'at most 72 bytes'],
    ['é'.repeat(37), 'at most 72 bytes'], // 74 bytes in UTF-8, 37 characters
    ['pass\u0000word1', 'null'],
    ['        ', 'only spaces'],
  ])('refuses %j (%s) as BAD_USER_INPUT on password', (password, why) => {
    try {
      checkNewPassword(normalizePassword(password));
      throw new Error('accepted');
    } catch (error) {
      expect(isAppError(error, 'BAD_USER_INPUT') && error.extensions.field).toBe('password');
      expect((error as Error).message).toContain(why);
    }
  });

  it('accepts 72 bytes exactly and emoji passwords', () => {
    expect(() => checkNewPassword('a'.repeat(72))).not.toThrow();
    expect(() => checkNewPassword('🔑🔑🔑🔑🔑🔑🔑🔑')).not.toThrow();
  });

  it('normalizes composed and decomposed accents to the same password', () => {
    expect(normalizePassword('caf\u00e9-latte')).toBe(normalizePassword('cafe\u0301-latte'));
  });
});

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher(4);
  afterAll(() => hasher.close());

  it('hashes off the main thread and verifies', async () => {
    const hash = await hasher.hash('correct horse');
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await hasher.verifyOrBurn('correct horse', hash)).toBe(true);
    expect(await hasher.verifyOrBurn('wrong horse', hash)).toBe(false);
  });

  // Linux: a thread's nice value is the 19th field of /proc/self/task/<tid>/stat (a thread that
  // ends while they are read is skipped).
  const niceOfThreads = () =>
    readdirSync('/proc/self/task').flatMap((tid) => {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
      } catch {
        return [];
      }
    });

  it.runIf(process.platform === 'linux')('hashes at a lower priority than the thread that serves requests', async () => {
    const base = getPriority(0);
    await hasher.hash('correct horse'); // a worker thread is up
    expect(niceOfThreads()).toContain(Math.min(19, base + 10));
    expect(getPriority(0)).toBe(base); // this thread's own priority is untouched
  });

  it('never matches when there is no hash, even for the dummy password', async () => {
    expect(await hasher.verifyOrBurn('anything', undefined)).toBe(false);
  });
});
