import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { SyncedLimiter } from '../../src/rate-limits/synced-limiter';

const options = { keyPrefix: 'me', points: 5, duration: 60 };

/** Two processes' limiters in front of one shared store, on one clock. */
function twoProcesses() {
  let now = 1_000_000;
  const shared = new RateLimiterMemory(options);
  const clock = () => now;
  return {
    a: new SyncedLimiter(shared, options, clock),
    b: new SyncedLimiter(shared, options, clock),
    shared,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function admitted(limiter: SyncedLimiter, key: string, times: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < times; i++) {
    try {
      await limiter.consume(key);
      count += 1;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
    }
  }
  return count;
}

describe('a counter held in process and synced', () => {
  it('enforces the limit exactly in one process, before any sync', async () => {
    const { a } = twoProcesses();
    expect(await admitted(a, 'ip', 8)).toBe(5);
    await expect(a.consume('ip')).rejects.toBeInstanceOf(RateLimiterRes);
  });

  it('adds its points to the shared counter at the sync, once', async () => {
    const { a, shared } = twoProcesses();
    await admitted(a, 'ip', 3);
    expect(await shared.get('ip')).toBeNull();
    await a.sync();
    expect((await shared.get('ip'))?.consumedPoints).toBe(3);
    await a.sync();
    expect((await shared.get('ip'))?.consumedPoints).toBe(3);
  });

  it("learns another process's points when it syncs its own: then both refuse", async () => {
    const { a, b, shared } = twoProcesses();
    expect(await admitted(a, 'ip', 3)).toBe(3);
    await a.sync();
    // b's first request is judged on what b knows (nothing yet); its sync brings the total.
    expect(await admitted(b, 'ip', 1)).toBe(1);
    await b.sync();
    expect(await admitted(b, 'ip', 5)).toBe(1);
    await b.sync();
    expect((await shared.get('ip'))?.consumedPoints).toBe(5);
    // a still counts from its last sync (3 + what it admits) until it syncs again.
    expect(await admitted(a, 'ip', 5)).toBe(2);
    await a.sync();
    expect((await admitted(a, 'ip', 1)) + (await admitted(b, 'ip', 1))).toBe(0);
  });

  it('bounds a burst spread over processes inside one sync interval by processes × limit', async () => {
    const { a, b, shared } = twoProcesses();
    const total = (await admitted(a, 'ip', 10)) + (await admitted(b, 'ip', 10));
    expect(total).toBe(10);
    await Promise.all([a.sync(), b.sync()]);
    expect((await shared.get('ip'))?.consumedPoints).toBe(10);
    expect((await admitted(a, 'ip', 1)) + (await admitted(b, 'ip', 1))).toBe(0);
  });

  it('opens again when the window ends, and forgets keys whose window ended', async () => {
    const { a, advance } = twoProcesses();
    await admitted(a, 'ip', 5);
    await a.sync();
    advance(60_001);
    expect(await admitted(a, 'ip', 1)).toBe(1);
    await a.sync();
    advance(60_001);
    await a.sync();
    expect(a.size).toBe(0);
  });
});
