import { describe, expect, it } from 'vitest';
import { OneAtATime } from '../../src/otp/one-at-a-time';

/** A task that runs until the test lets it end. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('OneAtATime', () => {
  it('runs the tasks of one key in arrival order, each after the one before settled, and others beside them', async () => {
    const queue = new OneAtATime();
    const events: string[] = [];
    const first = gate();
    const a1 = queue.run('a', async () => {
      events.push('a1 start');
      await first.opened;
      events.push('a1 end');
      throw new Error('a1 failed');
    });
    const a2 = queue.run('a', async () => {
      events.push('a2 start');
      return 'a2';
    });
    const b = queue.run('b', async () => {
      events.push('b start');
      return 'b';
    });
    expect(await b).toBe('b');
    expect(events).toEqual(['a1 start', 'b start']);
    first.open();
    await expect(a1).rejects.toThrow('a1 failed');
    expect(await a2).toBe('a2');
    expect(events).toEqual(['a1 start', 'b start', 'a1 end', 'a2 start']);
  });

  it('forgets a key once its last task settled', async () => {
    const queue = new OneAtATime();
    await Promise.all([queue.run('a', async () => 1), queue.run('a', async () => 2), queue.run('b', async () => 3)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.size).toBe(0);
  });
});
