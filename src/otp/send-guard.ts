import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import { countryCallingCodeOf, maskPhone } from '../phones/mask';
import type { Budget } from '../rate-limits/budget';

export interface SendBudgets {
  phonePerHour: Budget;
  phonePerDay: Budget;
  countryPerHour: Budget;
}

/**
 * Caps on codes sent to a number and to a country, whatever account, token or IP asks: checked
 * before Sinch is called. The per-country cap is the SMS-pumping circuit breaker: a burst of sends
 * to one calling code (premium ranges abroad, most often) stops there until the hour turns.
 */
export class SendGuard {
  /** Per calling code, until when the breaker is known to be open (one warning per trip). */
  private readonly trippedUntil = new Map<string, number>();

  constructor(
    private readonly budgets: SendBudgets,
    private readonly logger: Logger,
  ) {}

  /** Takes one send from every budget covering `e164`, or none of them. */
  async take(e164: string): Promise<void> {
    const taken: Budget[] = [];
    const checks: Array<[Budget, string, string]> = [
      [this.budgets.phonePerHour, e164, 'Too many codes were sent to this number. Try again later.'],
      [this.budgets.phonePerDay, e164, 'Too many codes were sent to this number today. Try again later.'],
      [this.budgets.countryPerHour, countryCallingCodeOf(e164), 'Codes to this country are paused for a while. Try again later.'],
    ];
    for (const [budget, identity, message] of checks) {
      const result = await budget.take(identity);
      if (!result.ok) {
        await Promise.all(taken.map((b, i) => b.giveBack(checks[i][1])));
        if (budget === this.budgets.countryPerHour) this.warnTripped(identity, result.retryAfterSeconds, e164);
        throw new AppError('RATE_LIMITED', { message, extensions: { retryAfterSeconds: result.retryAfterSeconds } });
      }
      taken.push(budget);
    }
  }

  /** A send that did not happen costs nothing. */
  async giveBack(e164: string): Promise<void> {
    await Promise.all([
      this.budgets.phonePerHour.giveBack(e164),
      this.budgets.phonePerDay.giveBack(e164),
      this.budgets.countryPerHour.giveBack(countryCallingCodeOf(e164)),
    ]);
  }

  private warnTripped(callingCode: string, retryAfterSeconds: number, e164: string): void {
    const now = Date.now();
    if ((this.trippedUntil.get(callingCode) ?? 0) > now) return;
    this.trippedUntil.set(callingCode, now + retryAfterSeconds * 1000);
    this.logger.warn(
      { callingCode: `+${callingCode}`, retryAfterSeconds, example: maskPhone(e164) },
      `SMS pumping guard tripped: the hourly cap of codes to +${callingCode} is reached; sends there are paused for ${retryAfterSeconds} s`,
    );
  }
}
