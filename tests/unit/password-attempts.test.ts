import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AuditTrail } from '../../src/audit/audit-trail';
import { PasswordAttempts } from '../../src/auth/password-attempts';
import { isAppError } from '../../src/errors/app-error';
import { Budget } from '../../src/rate-limits/budget';
import type { Limiter } from '../../src/rate-limits/limiter-store';

/** The order of a password check's budgets and the comparison (PasswordAttempts.check), with real in-memory counters. */
describe('PasswordAttempts.check', () => {
  let n = 0;
  const budget = (points: number, limiter?: Limiter) => new Budget(limiter ?? new RateLimiterMemory({ keyPrefix: `pa${n++}`, points, duration: 60 }));
  const attempts = (options: { perNetwork?: number; ceiling?: number | Limiter; known?: boolean }) =>
    new PasswordAttempts({
      perEmailAndNetwork: budget(options.perNetwork ?? 10),
      ceilingPerEmail: typeof options.ceiling === 'object' ? budget(0, options.ceiling) : budget(options.ceiling ?? 10),
      audit: { hasSignedInFrom: async () => options.known ?? false } as unknown as AuditTrail,
    });
  const counting = () => {
    const calls = { n: 0 };
    return { calls, compare: async () => ++calls.n > 0 };
  };
  const rateLimited = (error: unknown) => isAppError(error, 'RATE_LIMITED');

  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  afterEach(() => {
    expect(unhandled).toEqual([]);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('refuses past the count per email and network without comparing', async () => {
    const guard = attempts({ perNetwork: 1 });
    const { calls, compare } = counting();
    expect(await guard.check('a@example.com', '203.0.113.1', compare)).toBe(true);
    await expect(guard.check('a@example.com', '203.0.113.1', compare)).rejects.toSatisfy(rateLimited);
    expect(calls.n).toBe(1);
  });

  it('takes the ceiling while comparing, and past it refuses whatever the comparison said', async () => {
    const guard = attempts({ ceiling: 1 });
    const { calls, compare } = counting();
    expect(await guard.check('b@example.com', '203.0.113.1', compare)).toBe(true);
    await expect(guard.check('b@example.com', '203.0.113.2', compare)).rejects.toSatisfy(rateLimited);
    expect(calls.n).toBe(2); // the refused attempt was compared too: its answer does not depend on it
  });

  it('spares networks the account has signed in from', async () => {
    const guard = attempts({ ceiling: 1, known: true });
    const { calls, compare } = counting();
    for (let i = 0; i < 3; i++) expect(await guard.check('c@example.com', `203.0.113.${i}`, compare)).toBe(true);
    expect(calls.n).toBe(3);
  });

  it('answers one failure, and leaves none unhandled, when the comparison or the ceiling fails', async () => {
    const failingCompare = async () => {
      throw new Error('worker gone');
    };
    await expect(attempts({}).check('d@example.com', '203.0.113.1', failingCompare)).rejects.toThrow('worker gone');
    const throwingCompare = () => {
      throw new Error('thrown at once');
    };
    await expect(attempts({}).check('d@example.com', '203.0.113.1', throwingCompare as () => Promise<boolean>)).rejects.toThrow('thrown at once');
    const brokenStore: Limiter = {
      consume: async () => {
        throw new Error('store down');
      },
      reward: async () => {
        throw new Error('store down');
      },
      delete: async () => false,
      get: async () => null,
    };
    const { compare } = counting();
    await expect(attempts({ ceiling: brokenStore }).check('d@example.com', '203.0.113.1', compare)).rejects.toThrow('store down');
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});
