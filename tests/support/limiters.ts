import { RateLimiterRes } from 'rate-limiter-flexible';

/** How many of `times` consumptions a limiter admits (a refusal is a RateLimiterRes, not an error). */
export async function admitted(limiter: { consume(key: string): Promise<unknown> }, key: string, times: number): Promise<number> {
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
