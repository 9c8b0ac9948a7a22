/** Injected wherever time matters, so tests move time forward instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}

/** Whole seconds from `now` until `later`, at least 1 (a client told "retry in 0 s" would spin). */
export function secondsUntil(later: Date, now: Date): number {
  return Math.max(1, Math.ceil((later.getTime() - now.getTime()) / 1000));
}

export function earliest(a: Date, b: Date): Date {
  return a <= b ? a : b;
}

export function latest(a: Date, b: Date): Date {
  return a >= b ? a : b;
}

/** JWT times are whole seconds: truncating keeps an advertised expiry equal to a token's `exp`. */
export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
