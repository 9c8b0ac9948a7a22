import type { AuditTrail } from '../audit/audit-trail';
import { AppError } from '../errors/app-error';
import { type Budget, emailAtNetwork, type Taken } from '../rate-limits/budget';

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
   * Before a password check (login, changePassword, deleteAccount): the count per email and network,
   * and the ceiling unless the network is known. The count and the question whether the network is
   * known go out together.
   */
  async admit(emailCanonical: string, ip: string): Promise<void> {
    const [taken, known] = await Promise.all([
      this.deps.perEmailAndNetwork.take(emailAtNetwork(emailCanonical, ip)),
      this.deps.audit.hasSignedInFrom(emailCanonical, ip),
    ]);
    refuseUnless(taken);
    if (!known) refuseUnless(await this.deps.ceilingPerEmail.take(emailCanonical));
  }

  /** What a deleted account leaves: its ceiling (per-network counters expire on their own). */
  forget(emailCanonical: string): Promise<void> {
    return this.deps.ceilingPerEmail.forget(emailCanonical);
  }
}

function refuseUnless(taken: Taken): void {
  if (taken.ok) return;
  throw new AppError('RATE_LIMITED', {
    message: 'Too many password attempts for this account. Try again later.',
    extensions: { retryAfterSeconds: taken.retryAfterSeconds },
  });
}
