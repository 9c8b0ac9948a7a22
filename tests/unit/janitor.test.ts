import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Janitor } from '../../src/maintenance/janitor';
import { systemClock } from '../../src/time/clock';

describe('the janitor’s schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Regression: a pass that ended after stop() scheduled the next one, which then ran on a closed database.
  it('schedules nothing more once stopped, and stop waits for the pass under way', async () => {
    vi.useFakeTimers();
    let finishPass: (() => void) | undefined;
    // A pass that lasts until the test ends it (and finds the lock taken: nothing to count).
    const em = { fork: () => ({ transactional: () => new Promise((resolve) => (finishPass = () => resolve(null))) }) };
    const janitor = new Janitor({
      em: em as never,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      intervalSeconds: 10,
      auditRetentionDays: 1,
    });
    janitor.start();
    await vi.advanceTimersByTimeAsync(10_000); // the first pass starts within one interval
    expect(finishPass).toBeDefined();

    let stopped = false;
    const stopping = janitor.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finishPass!();
    await stopping;
    expect(vi.getTimerCount()).toBe(0);
  });
});
