/** Injected wherever time matters, so tests move time forward instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}

/** A wait in whole seconds, rounded up, at least 1 (a client told "retry in 0 s" would spin). */
export function secondsToWait(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** `secondsToWait` from `now` until `later`. */
export function secondsUntil(later: Date, now: Date): number {
  return secondsToWait(later.getTime() - now.getTime());
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
