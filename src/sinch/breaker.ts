import CircuitBreaker from 'opossum';
import type { Logger } from '../logging/logger';
import { secondsToWait } from '../time/clock';

export interface BreakerOptions {
  /** Consecutive outages (no usable answer, 5xx) that open the circuit. */
  failureThreshold: number;
  /** How long it stays open before one trial call is let through. */
  resetTimeoutMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 5, resetTimeoutMs: 30_000 };

type Work = () => Promise<unknown>;

/** Carries an outage's result through opossum's failure path, to be handed back unchanged. */
class Outage {
  constructor(readonly result: unknown) {}
}

/**
 * A circuit breaker around Sinch calls, so a dead Sinch is not hammered by every login.
 *
 * opossum decides by error percentage over a rolling window, which opens on 1 failure out of 1
 * call and never on 5 failures spread over 11 calls; "N consecutive outages" is what we mean.
 * So opossum keeps the states, the reset timer, the single half-open trial and fail-fast, but its
 * own percentage rule is switched off (`errorThresholdPercentage: 100` can never be exceeded) and
 * this class opens it after N consecutive failures. A failed trial re-opens it (opossum's rule).
 *
 * opossum runs on real time (Date.now, setTimeout), so the seconds until the trial are counted
 * in real time too, not on the injected clock.
 */
export class SinchBreaker {
  private readonly breaker: CircuitBreaker<[Work], unknown>;
  private consecutive = 0;
  private openedAt = 0;
  private trialFailed = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly logger: Logger,
  ) {
    this.breaker = new CircuitBreaker((work: Work) => work(), {
      name: 'sinch',
      // SinchHttp bounds every call; a second timer here would race it.
      timeout: false,
      resetTimeout: options.resetTimeoutMs,
      errorThresholdPercentage: 100,
    });
    this.breaker.on('success', () => {
      this.consecutive = 0;
    });
    this.breaker.on('failure', () => {
      this.consecutive += 1;
      if (this.breaker.halfOpen) this.trialFailed = true;
      else if (this.breaker.closed && this.consecutive >= options.failureThreshold) this.breaker.open();
    });
    this.breaker.on('open', () => this.opened());
    this.breaker.on('close', () => {
      this.consecutive = 0;
      this.logger.info('Sinch circuit breaker closed: Sinch answered the trial call');
    });
  }

  /**
   * Runs `work` unless the circuit is open (then `whenOpen`, nothing sent). A result `isOutage`
   * counts as a failure but is still returned as is: the caller maps it like any other answer.
   */
  async run<T>(work: () => Promise<T>, isOutage: (result: T) => boolean, whenOpen: (retryAfterSeconds: number) => T): Promise<T> {
    try {
      return (await this.breaker.fire(async () => {
        const result = await work();
        if (isOutage(result)) throw new Outage(result);
        return result;
      })) as T;
    } catch (error) {
      if (error instanceof Outage) return error.result as T;
      if (isOpenRejection(error)) return whenOpen(this.secondsUntilTrial());
      throw error;
    }
  }

  get state(): 'closed' | 'open' | 'half-open' {
    return this.breaker.closed ? 'closed' : this.breaker.halfOpen ? 'half-open' : 'open';
  }

  /** At least 1: while a trial is in flight the answer is "very soon", never "now". */
  private secondsUntilTrial(): number {
    return secondsToWait(this.openedAt + this.options.resetTimeoutMs - Date.now());
  }

  private opened(): void {
    this.openedAt = Date.now();
    const seconds = Math.ceil(this.options.resetTimeoutMs / 1000);
    const why = this.trialFailed ? 'the trial call failed too' : `${this.consecutive} consecutive failures`;
    this.trialFailed = false;
    this.logger.warn(
      { consecutiveFailures: this.consecutive, resetTimeoutMs: this.options.resetTimeoutMs },
      `Sinch circuit breaker opened (${why}): Sinch calls fail fast for ${seconds} s, then one trial call`,
    );
  }
}

function isOpenRejection(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === 'EOPENBREAKER';
}
