import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import type { Metrics } from '../metrics/metrics';
import { e164Parts } from '../phones/e164-parts';
import { limitKey } from '../rate-limits/budget';
import type { Limiter } from '../rate-limits/limiter-store';
import { secondsToWait } from '../time/clock';

export interface PumpingSettings {
  /** The window sends and conversions are counted in. */
  windowSeconds: number;
  /** Unconverted sends to one country calling code (one number prefix) before the rate is judged. */
  minUnconvertedPerCountry: number;
  minUnconvertedPerPrefix: number;
  /** Below this share of sends verified, the country (prefix) is throttled; 0–1. */
  minConversionRate: number;
}

/** Digits of the national number that name a range (operators and premium ranges are allocated by prefix). */
const PREFIX_DIGITS = 4;

interface Scope {
  name: 'country' | 'prefix';
  /** For the log: `+44` or `+44 7400`, never a whole number. */
  label: string;
  key: string;
  minUnconverted: number;
}

/**
 * SMS pumping shows as codes that nobody ever types: many sends to one country or one number range,
 * few verified. Sends of numbers not yet proven and their conversions (a code verified) are
 * counted per country calling code and per number prefix, in the shared counters' store. Once
 * enough sends there are unconverted and the conversion rate falls below the threshold, new
 * unproven sends there are refused until the window turns; proven owners are never judged here,
 * and places with normal conversion carry on. The fixed per-country cap stays as a ceiling.
 */
export class PumpingGuard {
  /** Per scope key, until when its trip has been logged (one warning line per trip, per process). */
  private readonly trippedUntil = new Map<string, number>();

  constructor(
    private readonly counters: { sends: Limiter; conversions: Limiter },
    private readonly settings: PumpingSettings,
    private readonly logger: Logger,
    private readonly metrics: Pick<Metrics, 'limiterRefusal'>,
  ) {}

  /**
   * A send to a number not yet proven, counted at its country and prefix before it is judged
   * (`release` gives it back should it not go out), or RATE_LIMITED, counting nothing, when either
   * looks pumped. Counted first so that sends in flight together see each other: judged before
   * they were counted (once Sinch had answered), 23 sends to one range at once all passed a guard
   * that trips after 10 (attack review).
   */
  async reserve(e164: string): Promise<void> {
    const scopes = this.scopesOf(e164);
    const counts = await Promise.all(
      // `get` first: a count this process does not hold yet is read from the store (other replicas' sends), as before.
      scopes.map((scope) =>
        Promise.all([
          this.counters.sends.get(scope.key).then(() => this.counters.sends.consume(scope.key)),
          this.counters.conversions.get(scope.key),
        ]),
      ),
    );
    for (const [i, scope] of scopes.entries()) {
      const [sends, conversions] = counts[i];
      // Judged on the sends before this one, those still in flight included.
      const sent = sends.consumedPoints - 1;
      const converted = Math.min(conversions?.consumedPoints ?? 0, sent);
      const unconverted = sent - converted;
      if (unconverted < scope.minUnconverted || converted / sent >= this.settings.minConversionRate) continue;
      const retryAfterSeconds = secondsToWait(sends.msBeforeNext || this.settings.windowSeconds * 1000);
      await this.release(e164);
      this.warnTripped(scope, { sent, converted, retryAfterSeconds });
      this.metrics.limiterRefusal(scope.name === 'country' ? 'pumpingPerCountry' : 'pumpingPerPrefix');
      throw new AppError('RATE_LIMITED', {
        message: 'Codes to this destination are paused for a while. Try again later.',
        extensions: { retryAfterSeconds },
      });
    }
  }

  /** A reserved send that did not go out. */
  async release(e164: string): Promise<void> {
    await Promise.all(this.scopesOf(e164).map((scope) => this.counters.sends.reward(scope.key)));
  }

  /** A code sent to a number not yet proven came back: the number is real, and so is the send. */
  async converted(e164: string): Promise<void> {
    await Promise.all(this.scopesOf(e164).map((scope) => this.counters.conversions.consume(scope.key)));
  }

  private scopesOf(e164: string): Scope[] {
    const parsed = e164Parts(e164);
    const cc = parsed?.countryCallingCode ?? e164.slice(1, 4);
    const prefix = (parsed?.nationalNumber ?? e164.slice(4)).slice(0, PREFIX_DIGITS);
    return [
      { name: 'country', label: `+${cc}`, key: limitKey('country', cc), minUnconverted: this.settings.minUnconvertedPerCountry },
      { name: 'prefix', label: `+${cc} ${prefix}`, key: limitKey('prefix', cc, prefix), minUnconverted: this.settings.minUnconvertedPerPrefix },
    ];
  }

  private warnTripped(scope: Scope, figures: { sent: number; converted: number; retryAfterSeconds: number }): void {
    const now = Date.now();
    if ((this.trippedUntil.get(scope.key) ?? 0) > now) return;
    this.trippedUntil.set(scope.key, now + figures.retryAfterSeconds * 1000);
    const rate = Math.round((100 * figures.converted) / figures.sent);
    this.logger.warn(
      {
        scope: scope.name,
        destination: scope.label,
        sent: figures.sent,
        converted: figures.converted,
        conversionRatePercent: rate,
        retryAfterSeconds: figures.retryAfterSeconds,
      },
      `SMS pumping guard tripped for ${scope.label}: ${figures.sent} codes sent to numbers not yet proven, ${figures.converted} verified (${rate} %); such sends there are paused for ${figures.retryAfterSeconds} s`,
    );
  }
}
