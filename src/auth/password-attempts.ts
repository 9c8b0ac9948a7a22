import type { AuditTrail } from '../audit/audit-trail';
import { AppError } from '../errors/app-error';
import { type Budget, emailAtNetwork, type Taken } from '../rate-limits/budget';

/**
 * How many password checks an account gets, whoever asks. Per email and client network (login's
 * `@loginPerEmail` directive, 10 per 15 minutes): a stranger who knows the email holds the login
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

  /** For login, whose directive has already counted the check per email and network. */
  async admitLogin(emailCanonical: string, ip: string): Promise<void> {
    await this.checkCeiling(emailCanonical, ip);
  }

  /** For a signed-in user's password check (changePassword, deleteAccount): the same budgets as a login. */
  async admitAccountCheck(emailCanonical: string, ip: string): Promise<void> {
    refuseUnless(await this.deps.perEmailAndNetwork.take(emailAtNetwork(emailCanonical, ip)));
    await this.checkCeiling(emailCanonical, ip);
  }

  /** What a deleted account leaves: its ceiling (per-network counters expire on their own). */
  forget(emailCanonical: string): Promise<void> {
    return this.deps.ceilingPerEmail.forget(emailCanonical);
  }

  private async checkCeiling(emailCanonical: string, ip: string): Promise<void> {
    if (await this.deps.audit.hasSignedInFrom(emailCanonical, ip)) return;
    refuseUnless(await this.deps.ceilingPerEmail.take(emailCanonical));
  }
}

function refuseUnless(taken: Taken): void {
  if (taken.ok) return;
  throw new AppError('RATE_LIMITED', {
    message: 'Too many password attempts for this account. Try again later.',
    extensions: { retryAfterSeconds: taken.retryAfterSeconds },
  });
}
