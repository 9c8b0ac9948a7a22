import pino from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import type { PumpingGuard } from '../../src/otp/pumping-guard';
import { capHolder, type Send, SendGuard } from '../../src/otp/send-guard';
import { Budget, limitKey } from '../../src/rate-limits/budget';

/** Counters in this process (the Redis and memory stores' path: the guard takes every point itself). */
function guardWith(limits: { hour: number; day: number }) {
  const limiter = (keyPrefix: string, points: number) => new RateLimiterMemory({ keyPrefix, points, duration: 3600 });
  const [hour, day] = [limiter('hour', limits.hour), limiter('day', limits.day)];
  const pumping = {
    reserve: async () => {},
    release: async () => {},
  } as unknown as PumpingGuard;
  const guard = new SendGuard(
    { phonePerHour: new Budget(hour), phonePerDay: new Budget(day), countryPerHour: new Budget(limiter('country', 1000)) },
    pumping,
    pino({ level: 'silent' }),
  );
  const points = async (counter: RateLimiterMemory, send: Send) => (await counter.get(limitKey(capHolder(send))))?.consumedPoints ?? 0;
  return { guard, hourPoints: (send: Send) => points(hour, send), dayPoints: (send: Send) => points(day, send) };
}

describe('SendGuard', () => {
  // Attack probe (2026-12-05): refused sends each took a point of the day's cap as well, given back
  // only after the others had found that cap full.
  it("takes the day's point only once the hour admits the send, even in a burst", async () => {
    const { guard, dayPoints } = guardWith({ hour: 1, day: 3 });
    const send: Send = { e164: '+33612345640' };
    await guard.take(send);
    const burst = await Promise.allSettled(Array.from({ length: 6 }, () => guard.take(send)));
    expect(burst.map((result) => result.status)).toEqual(Array(6).fill('rejected'));
    expect(await dayPoints(send)).toBe(1);
  });

  it("gives the hour's point back when the day's cap refuses", async () => {
    const { guard, hourPoints } = guardWith({ hour: 5, day: 1 });
    const send: Send = { e164: '+33612345641', verifiedOwner: 'owner' };
    await guard.take(send);
    await expect(guard.take(send)).rejects.toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/today/) });
    expect(await hourPoints(send)).toBe(1);
  });
});
