import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Budget, limitKey } from '../../src/rate-limits/budget';
import type { Limiter } from '../../src/rate-limits/limiter-store';

describe('Budget', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives a point back into the window it came from', async () => {
    const budget = new Budget(new RateLimiterMemory({ keyPrefix: 'a', points: 1, duration: 60 }));
    const taken = await budget.take('+447400000001');
    await budget.giveBack('+447400000001', taken);
    expect((await budget.take('+447400000001')).ok).toBe(true);
    expect((await budget.take('+447400000001')).ok).toBe(false);
  });

  // Regression: a point given back after its window rolled over was credited to the new window: one more send than the cap.
  it('gives nothing back once that window has rolled over', async () => {
    vi.useFakeTimers();
    const budget = new Budget(new RateLimiterMemory({ keyPrefix: 'b', points: 1, duration: 60 }));
    const old = await budget.take('+447400000002');
    vi.advanceTimersByTime(61_000);
    expect((await budget.take('+447400000002')).ok).toBe(true);
    await budget.giveBack('+447400000002', old);
    expect((await budget.take('+447400000002')).ok).toBe(false);
  });

  describe('taken inside a statement of the caller (counters in PostgreSQL)', () => {
    const inPostgres = { rowKey: (key: string) => `prefix:${key}`, points: 2, durationMs: 60_000 };
    const budgetOver = (table: Limiter['inPostgres'], refused = () => {}) =>
      new Budget(Object.assign(new RateLimiterMemory({ keyPrefix: 'c', points: 2, duration: 60 }), { inPostgres: table }), refused);

    it("gives takePoint the limiter's row key and a window from now", () => {
      vi.useFakeTimers({ now: 1_800_000_000_000 });
      const point = budgetOver(inPostgres).inStatement('+447400000003');
      expect(point?.values).toEqual([`prefix:${limitKey('+447400000003')}`, 1_800_000_060_000, 1_800_000_000_000]);
      expect(point?.limit).toBe(2);
    });

    it('gives a statement that derives the identity itself the row key without it', () => {
      vi.useFakeTimers({ now: 1_800_000_000_000 });
      const point = budgetOver(inPostgres).inStatementOfSqlIdentity()!;
      expect(point.keyPrefix).toBe('prefix:');
      expect(point.rowKey('+447400000006')).toBe(`prefix:${limitKey('+447400000006')}`);
      expect([point.expire, point.now]).toEqual([1_800_000_060_000, 1_800_000_000_000]);
    });

    it("reads the row as the limiter does: up to the limit taken, past it refused with the window's rest", () => {
      vi.useFakeTimers({ now: 1_800_000_000_000 });
      const refused = vi.fn();
      const point = budgetOver(inPostgres, refused).inStatement('+447400000004')!;
      expect(point.taken({ points: 2, expire: '1800000030000' })).toEqual({ ok: true, until: 1_800_000_030_000 });
      expect(refused).not.toHaveBeenCalled();
      expect(point.taken({ points: 3, expire: '1800000029001' })).toEqual({ ok: false, retryAfterSeconds: 30 });
      expect(refused).toHaveBeenCalledTimes(1);
    });

    it('is not offered when the counters are elsewhere (Redis, memory): the caller takes the point with `take`', () => {
      expect(budgetOver(undefined).inStatement('+447400000005')).toBeUndefined();
    });
  });
});
