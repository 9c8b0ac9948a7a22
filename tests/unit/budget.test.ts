import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Budget } from '../../src/rate-limits/budget';

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
});
