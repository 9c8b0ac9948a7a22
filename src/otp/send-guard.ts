import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import { countryCallingCodeOf, maskPhone } from '../phones/mask';
import type { Budget, Taken } from '../rate-limits/budget';
import type { PumpingGuard } from './pumping-guard';

export interface SendBudgets {
  phonePerHour: Budget;
  phonePerDay: Budget;
  countryPerHour: Budget;
}

/**
 * Caps on codes sent to a number and to a country, whatever account, token or IP asks: checked
 * before Sinch is called. The per-country cap is the SMS-pumping circuit breaker: a burst of sends
 * to one calling code (premium ranges abroad, most often) stops there until the hour turns.
 *
 * A number's verified owners share a budget of their own: registering throwaway accounts with a
 * victim's number (register cannot prove it) spends only the shared "unproven" budget, so it
 * can neither lock the owner out of their second factor nor, through the country breaker, lock
 * out a whole country's proven users. Codes to one number per window stay within twice the cap
 * (unproven + owners), whatever the number of accounts naming or proving it.
 */
/** What a send took, budget by budget (and, for a number not yet proven, the pumping guard's count), for giving it back. */
export interface SendReceipt {
  taken: Array<{ budget: Budget; identity: string; taken: Taken }>;
  unproven?: string;
}

/** A send to `e164`; `verifiedOwner` is the user id when that user has proven the number. */
export interface Send {
  e164: string;
  verifiedOwner?: string;
}

export class SendGuard {
  /** Per calling code, until when the breaker is known to be open (one warning per trip). */
  private readonly trippedUntil = new Map<string, number>();

  constructor(
    private readonly budgets: SendBudgets,
    private readonly pumping: PumpingGuard,
    private readonly logger: Logger,
  ) {}

  /** Takes one send from every budget covering this send, or none of them; the receipt gives them back. */
  async take(send: Send): Promise<SendReceipt> {
    // Numbers not yet proven are judged by how often codes to their country and range come back.
    if (!send.verifiedOwner) await this.pumping.reserve(send.e164);
    const receipt: SendReceipt = { taken: [], unproven: send.verifiedOwner ? undefined : send.e164 };
    // Taken all at once; if any refuses, the others are given back.
    const checks = this.checksFor(send);
    const results = await Promise.all(checks.map(([budget, identity]) => budget.take(identity))).catch(async (error: unknown) => {
      await this.giveBack(receipt);
      throw error;
    });
    for (const [i, taken] of results.entries()) if (taken.ok) receipt.taken.push({ budget: checks[i][0], identity: checks[i][1], taken });
    const refused = results.findIndex((taken) => !taken.ok);
    if (refused === -1) return receipt;
    await this.giveBack(receipt);
    const [budget, identity, message] = checks[refused];
    const { retryAfterSeconds } = results[refused] as Extract<Taken, { ok: false }>;
    if (budget === this.budgets.countryPerHour) this.warnTripped(identity, retryAfterSeconds, send.e164);
    throw new AppError('RATE_LIMITED', { message, extensions: { retryAfterSeconds } });
  }

  /** A code sent to a number not yet proven was verified. */
  converted(e164: string): Promise<void> {
    return this.pumping.converted(e164);
  }

  /** A send that did not happen costs nothing (in the windows it was taken from). */
  async giveBack(receipt: SendReceipt): Promise<void> {
    await Promise.all([
      ...receipt.taken.map(({ budget, identity, taken }) => budget.giveBack(identity, taken)),
      receipt.unproven && this.pumping.release(receipt.unproven),
    ]);
  }

  private checksFor({ e164, verifiedOwner }: Send): Array<[Budget, string, string]> {
    // One owners' budget per number, however many accounts have proven it: accounts multiply
    // nothing. Accounts that merely name the number share the other one.
    const holder = verifiedOwner ? `${e164}#owners` : `${e164}#unproven`;
    const checks: Array<[Budget, string, string]> = [
      [this.budgets.phonePerHour, holder, 'Too many codes were requested. Try again later.'],
      [this.budgets.phonePerDay, holder, 'Too many codes were requested today. Try again later.'],
    ];
    if (!verifiedOwner) {
      checks.push([this.budgets.countryPerHour, countryCallingCodeOf(e164), 'Codes to this country are paused for a while. Try again later.']);
    }
    return checks;
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
