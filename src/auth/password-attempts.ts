import type { AuditTrail } from '../audit/audit-trail';
import { AppError } from '../errors/app-error';
import { type Budget, emailAtNetwork, type Taken } from '../rate-limits/budget';
import type { LoginPoints } from '../users/user.repository';

/**
 * How many password checks an account gets, whoever asks. Per email and client network
 * (`RATE_LIMIT_LOGIN_PER_EMAIL`, 10 per 15 minutes): a stranger who knows the email holds the login
 * off only from their own network. Across networks, a per-email ceiling (100 a day) bounds what an
 * attacker with many addresses gets; networks the account has signed in from before are spared
 * it, so the ceiling can lock a user out only of networks they have never used.
 */
export class PasswordAttempts {
  constructor(
    private readonly deps: {
      /** The directive's own counters (same key prefix and window). */
      perEmailAndNetwork: Budget;
      ceilingPerEmail: Budget;
      audit: AuditTrail;
    },
  ) {}

  /**
   * A password check (login, changePassword, deleteAccount) within the account's budgets. The count
   * per email and network and the question whether the network is known go out together, before
   * any bcrypt work: a refusal there costs no hashing. The ceiling (unknown networks only) is taken
   * while `compare` runs (or was, by the caller's statement): it decides the answer, not whether bcrypt runs, and an attempt it refuses
   * answers RATE_LIMITED whatever the password, so the comparison's result tells nothing.
   * `asked`: what the caller's own statement already answered (login's account lookup asks it all,
   * by `pointsInStatement`'s rule): the point per email and network, the ceiling's point (each
   * undefined: taken here), and whether the network is known.
   */
  async check<T>(
    emailCanonical: string,
    ip: string,
    compare: () => Promise<T>,
    asked: { taken?: Promise<Taken | undefined>; ceiling?: Promise<Taken | undefined>; knownNetwork?: Promise<boolean> } = {},
  ): Promise<T> {
    const [taken, known] = await Promise.all([
      takenUnlessCounted(asked.taken, () => this.deps.perEmailAndNetwork.take(emailAtNetwork(emailCanonical, ip))),
      asked.knownNetwork ?? this.deps.audit.hasSignedInFrom(emailCanonical, ip),
    ]);
    refuseUnless(taken);
    if (known) return compare();
    const [ceiling, result] = await Promise.all([
      takenUnlessCounted(asked.ceiling, () => this.deps.ceilingPerEmail.take(emailCanonical)),
      Promise.resolve().then(compare),
    ]);
    refuseUnless(ceiling);
    return result;
  }

  /**
   * Both points as SQL for the caller's statement, when counted in PostgreSQL; their answers go to
   * `check`. The statement must take the ceiling's point only when the point per email and network
   * is within its limit and the network is new, as `check` does.
   */
  pointsInStatement(emailCanonical: string, ip: string): LoginPoints | undefined {
    const perNetwork = this.deps.perEmailAndNetwork.inStatement(emailAtNetwork(emailCanonical, ip));
    const ceiling = this.deps.ceilingPerEmail.inStatement(emailCanonical);
    return perNetwork && ceiling ? { perNetwork, ceiling } : undefined;
  }

  /** What a deleted account leaves: its ceiling (per-network counters expire on their own). */
  forget(emailCanonical: string): Promise<void> {
    return this.deps.ceilingPerEmail.forget(emailCanonical);
  }
}

/** The point the caller's statement took, else `take` it here. */
async function takenUnlessCounted(counted: Promise<Taken | undefined> | undefined, take: () => Promise<Taken>): Promise<Taken> {
  return (await counted) ?? take();
}

function refuseUnless(taken: Taken): void {
  if (taken.ok) return;
  throw new AppError('RATE_LIMITED', {
    message: 'Too many password attempts for this account. Try again later.',
    extensions: { retryAfterSeconds: taken.retryAfterSeconds },
  });
}
