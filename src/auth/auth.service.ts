import type { Logger } from 'pino';
import { inTransaction } from '../db/transaction';
import { AppError } from '../errors/app-error';
import { ChallengePurpose } from '../otp/otp-challenge.entity';
import type { OtpService, PendingAuthResult } from '../otp/otp.service';
import { normalizePassword, checkNewPassword } from '../passwords/password-rules';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { PhonePolicy } from '../phones/phone-policy';
import type { Clock } from '../time/clock';
import { emailKey, normalizeEmail, requireEmail } from '../validation/email';
import type { PasswordAttempts } from './password-attempts';
import { type LoginAccount, NO_LOGIN_ACCOUNT, type UserRepository } from '../users/user.repository';
import { ipBucket } from '../rate-limits/ip-bucket';
import type { AuditTrail } from '../audit/audit-trail';
import { AuthEventType } from '../audit/auth-event.entity';
import type { ClientInfo } from '../http/client-info';

export interface RegisterInput {
  email: string;
  password: string;
  phoneNumber: string;
  country?: string | null;
}

/** The first factor: accounts and passwords. Both entry points end in a pending 2FA challenge. */
export class AuthService {
  constructor(
    private readonly deps: {
      users: UserRepository;
      hasher: PasswordHasher;
      phones: PhonePolicy;
      otp: OtpService;
      audit: AuditTrail;
      passwordAttempts: PasswordAttempts;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async register(input: RegisterInput, client: ClientInfo): Promise<PendingAuthResult> {
    const { users, hasher, phones, otp, audit, clock, logger } = this.deps;
    // Field by field, cheapest first, all before any database or bcrypt work.
    const email = requireEmail(input.email);
    const password = normalizePassword(input.password);
    checkNewPassword(password);
    const phone = phones.accept(input.phoneNumber, input.country);
    const passwordHash = await hasher.hash(password);
    // A taken email fails at the unique index (EMAIL_ALREADY_REGISTERED): no read before the
    // insert, whose transaction then holds everything the sign-up writes.
    return inTransaction(users.getEntityManager(), async () => {
      const user = await users.add({ email, phoneNumber: phone.e164, passwordHash, createdAt: clock.now() });
      await audit.record({ type: AuthEventType.REGISTERED, userId: user.id, client });
      logger.info({ userId: user.id }, 'user registered');
      return otp.open(user, phone.channels);
    });
  }

  /**
   * Unknown email, wrong password and malformed input all answer INVALID_CREDENTIALS after the
   * same bcrypt work, so neither the answer nor its timing tells whether an account exists.
   */
  async login(rawEmail: string, rawPassword: string, client: ClientInfo): Promise<PendingAuthResult> {
    const { hasher, phones, otp, audit, passwordAttempts } = this.deps;
    // The same query whether or not the account exists; the lookup (which also asks whether the
    // account has signed in from this network) goes out with the budget's own query and tells
    // nothing until the budgets admit the attempt.
    const email = normalizeEmail(rawEmail);
    const found = email === undefined ? Promise.resolve(NO_LOGIN_ACCOUNT) : this.findAccount(email, client.ip);
    found.catch(() => {}); // awaited in the check
    const knownNetwork = found.then((account) => account.knownNetwork);
    const { user, matches } = await passwordAttempts.check(
      emailKey(rawEmail),
      client.ip,
      async () => {
        const { user } = await found;
        return { user, matches: await hasher.matches(rawPassword, user?.passwordHash) };
      },
      knownNetwork,
    );
    if (!user || !matches) {
      // Known emails only (an unknown one has no user to record it for), and not awaited: the
      // answer must take as long for an unknown email as for a known one. `record` never throws.
      if (user) void audit.record({ type: AuthEventType.LOGIN_FAILED, userId: user.id, client, detail: 'wrong password' });
      throw new AppError('INVALID_CREDENTIALS');
    }
    // The new challenge and the event in one statement.
    const event = { type: AuthEventType.LOGIN_SUCCEEDED, userId: user.id, client };
    return otp.open(user, phones.channelsFor(user.phoneNumber), { kind: ChallengePurpose.SignIn }, event);
  }

  /** The account and whether its network is known, in one query; without the audit trail, the account alone (the network then counts as new). */
  private async findAccount(email: string, ip: string): Promise<LoginAccount> {
    const { users, audit } = this.deps;
    try {
      return await users.findForLogin(email, ipBucket(ip));
    } catch (err) {
      audit.unreadable(err);
      return { user: await users.findByEmail(email), knownNetwork: false };
    }
  }
}
