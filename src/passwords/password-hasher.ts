import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { utf8Length } from '../validation/text';
import { MAX_PASSWORD_BYTES, normalizePassword } from './password-rules';

/**
 * bcrypt off the main thread. `verifyOrBurn` always does one full compare, so a login with an
 * unknown email costs the same as one with a wrong password.
 */
export class PasswordHasher {
  private readonly pool: Piscina;
  private dummyHash?: Promise<string>;

  constructor(private readonly cost: number) {
    this.pool = new Piscina({
      filename: path.join(__dirname, 'bcrypt.worker.js'),
      maxThreads: Math.max(1, availableParallelism()),
      // Idle workers cost ~10 MB each; keep one warm for the next login, and the others for a
      // minute after a burst (Piscina's default ends them the moment they are idle, and starting
      // a worker again costs more CPU than many hashes).
      minThreads: 1,
      idleTimeout: 60_000,
      // Piscina's run and wait histograms are read by nobody (the metrics read the queue's depth).
      recordTiming: false,
      // Workers wait for tasks in their own event loop, not blocked in Atomics.wait: a compare's
      // answer then reaches the waiting login about 0.3 ms sooner here (worker's end to the main
      // thread's continuation 0.26–0.31 ms against 0.56–0.67 ms, one login at a time), and a
      // login's p50 is 0.2–0.4 ms lower; under saturation the hashes are long enough that the
      // worker's next pick-up does not show.
      atomics: 'disabled',
    });
  }

  hash(password: string): Promise<string> {
    return this.pool.run({ op: 'hash', password, cost: this.cost });
  }

  /**
   * A password as typed at login or at an account change: normalized like at register; malformed
   * input (empty, over bcrypt's 72 bytes) never matches, after the same work as a real check.
   */
  async matches(rawPassword: string, hash: string | undefined): Promise<boolean> {
    const password = normalizePassword(rawPassword);
    const wellFormed = password.length > 0 && utf8Length(password) <= MAX_PASSWORD_BYTES;
    const matches = await this.verifyOrBurn(password.slice(0, MAX_PASSWORD_BYTES), wellFormed ? hash : undefined);
    return wellFormed && matches;
  }

  /** Compares against `hash`, or against a dummy hash of the same cost when there is none. */
  async verifyOrBurn(password: string, hash: string | undefined): Promise<boolean> {
    const target = hash ?? (await this.getDummyHash());
    const matches: boolean = await this.pool.run({ op: 'compare', password, hash: target });
    return hash !== undefined && matches;
  }

  /** Made once per process at the configured cost, so the burn costs what a real compare does. */
  private getDummyHash(): Promise<string> {
    this.dummyHash ??= this.hash(`dummy-${Math.random()}`);
    return this.dummyHash;
  }

  /** Hashes and checks waiting for a free worker (read by the metrics at each scrape). */
  get queueDepth(): number {
    return this.pool.queueSize;
  }

  async warmUp(): Promise<void> {
    await this.getDummyHash();
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
