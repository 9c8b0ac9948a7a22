import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import { countryCallingCodeOf, maskPhone } from '../phones/mask';
import type { Budget, KeyedPointRow, PointOfSqlIdentity, Taken } from '../rate-limits/budget';
import type { PumpingGuard } from './pumping-guard';

export interface SendBudgets {
  phonePerHour: Budget;
  phonePerDay: Budget;
  countryPerHour: Budget;
}

/** A budget covering a send: the budget, the identity it counts, the refusal's message. */
type Check = [budget: Budget, identity: string, message: string];

/** A budget's point, as taken for a send. */
export interface CountedPoint {
  budget: Budget;
  identity: string;
  taken: Taken;
}

/** What a send took, budget by budget (and, for a number not yet proven, the pumping guard's count), for giving it back. */
export interface SendReceipt {
  taken: CountedPoint[];
  unproven?: string;
}

/** A send to `e164`; `verifiedOwner` is the user id when that user has proven the number. */
export interface Send {
  e164: string;
  verifiedOwner?: string;
}

/**
 * Whose caps a send to a number counts against. One owners' budget per number, however many
 * accounts have proven it: accounts multiply nothing. Accounts that merely name the number share
 * the other one.
 */
export function capHolder({ e164, verifiedOwner }: Send): string {
  return `${e164}#${verifiedOwner ? 'owners' : 'unproven'}`;
}

/** `capHolder` as SQL, of a number and whether the sending user has proven it (SQL expressions). */
export const capHolderSql = (e164: string, proven: string) => `${e164} || case when ${proven} then '#owners' else '#unproven' end`;

/** The caps per number, to be taken by the reservation's statement (`SendGuard.numberCapsInStatement`). */
export interface NumberCapsInStatement {
  /**
   * For the statement: per cap, the row key's prefix (`limitKeySql` of the holder follows it) and
   * the end of a window starting now, the hour's limit (the day's point is taken only within it),
   * and now (epoch ms).
   */
  values: [hourPrefix: string, hourExpire: number, hourLimit: number, dayPrefix: string, dayExpire: number, now: number];
  /** What the rows the statement returned mean for `send`, for `take`: the hour's, and the day's unless the hour refused. */
  taken(send: Send, rows: KeyedPointRow[]): CountedPoint[];
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
export class SendGuard {
  /** Per calling code, until when the breaker is known to be open (one warning per trip). */
  private readonly trippedUntil = new Map<string, number>();

  constructor(
    private readonly budgets: SendBudgets,
    private readonly pumping: PumpingGuard,
    private readonly logger: Logger,
  ) {}

  /**
   * The caps per number as points for the reservation's statement, when counted in PostgreSQL (else
   * undefined: `take` takes them): the statement knows the number and whether its user has proven
   * it, and takes a point of each cap for `capHolderSql` of them, in the same round trip.
   */
  numberCapsInStatement(): NumberCapsInStatement | undefined {
    const { phonePerHour, phonePerDay } = this.budgets;
    const [hour, day] = [phonePerHour.inStatementOfSqlIdentity(), phonePerDay.inStatementOfSqlIdentity()];
    if (!hour || !day) return undefined;
    return {
      values: [hour.keyPrefix, hour.expire, hour.limit, day.keyPrefix, day.expire, hour.now],
      taken: (send, rows) => {
        const identity = capHolder(send);
        const counted = (budget: Budget, point: PointOfSqlIdentity): CountedPoint[] => {
          const row = rows.find(({ key }) => key === point.rowKey(identity));
          return row ? [{ budget, identity, taken: point.taken(row) }] : [];
        };
        const hourly = counted(phonePerHour, hour);
        if (hourly.length === 0) throw new Error(`the reservation's statement counted no point in ${hour.keyPrefix}`);
        return [...hourly, ...counted(phonePerDay, day)];
      },
    };
  }

  /**
   * Takes one send from every budget covering this send, or none of them; the receipt gives them
   * back. `counted`: the points the reservation's statement took already (`numberCapsInStatement`).
   * The number's hourly cap comes first, the others once it admits the send: a send it refuses
   * takes nothing from them (in a burst of refused sends, each took a point of the day's cap too,
   * and gave it back only after the others had found that cap full: a number's day closed after
   * the hour's codes).
   */
  async take(send: Send, counted: CountedPoint[] = []): Promise<SendReceipt> {
    const checks = this.checksFor(send);
    const receipt: SendReceipt = { taken: [] };
    await this.keep(receipt, checks, counted, send);
    // Numbers not yet proven are judged by how often codes to their country and range come back.
    if (!send.verifiedOwner) {
      await this.pumping.reserve(send.e164).catch(async (error: unknown) => {
        await this.giveBack(receipt);
        throw error;
      });
      receipt.unproven = send.e164;
    }
    const [first, ...others] = checks.filter(([budget]) => !counted.some((point) => point.budget === budget));
    for (const stage of first ? [[first], others] : []) {
      // At once within a stage; if any refuses, everything taken is given back.
      const points = await Promise.all(stage.map(([budget, identity]) => budget.take(identity).then((taken) => ({ budget, identity, taken })))).catch(
        async (error: unknown) => {
          await this.giveBack(receipt);
          throw error;
        },
      );
      await this.keep(receipt, checks, points, send);
    }
    return receipt;
  }

  /** Adds the points taken to the receipt; when one was refused, gives everything back and throws its refusal. */
  private async keep(receipt: SendReceipt, checks: Check[], points: CountedPoint[], send: Send): Promise<void> {
    receipt.taken.push(...points.filter((point) => point.taken.ok));
    const refused = points.find((point) => !point.taken.ok);
    if (!refused) return;
    await this.giveBack(receipt);
    throw this.refusal(checks, refused, send);
  }

  private refusal(checks: Check[], refused: CountedPoint, send: Send): AppError {
    const [budget, identity, message] = checks.find(([budget]) => budget === refused.budget)!;
    const { retryAfterSeconds } = refused.taken as Extract<Taken, { ok: false }>;
    if (budget === this.budgets.countryPerHour) this.warnTripped(identity, retryAfterSeconds, send.e164);
    return new AppError('RATE_LIMITED', { message, extensions: { retryAfterSeconds } });
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

  /** In the order they are taken: the number's hour, its day, and (a number not yet proven) its country. */
  private checksFor({ e164, verifiedOwner }: Send): Check[] {
    const holder = capHolder({ e164, verifiedOwner });
    const checks: Check[] = [
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
