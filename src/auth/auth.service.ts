import type { Logger } from 'pino';
import { inTransaction } from '../db/transaction';
import { AppError, isAppError } from '../errors/app-error';
import type { OpenedAhead, OtpService, PendingAuthResult } from '../otp/otp.service';
import { normalizePassword, checkNewPassword } from '../passwords/password-rules';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { PhonePolicy } from '../phones/phone-policy';
import type { Clock } from '../time/clock';
import { loginEmail, requireEmail } from '../validation/email';
import type { PasswordAttempts } from './password-attempts';
import { type LoginAccount, NO_LOGIN_ACCOUNT, type UserRepository } from '../users/user.repository';
import { ipBucket } from '../rate-limits/ip-bucket';
import type { Taken } from '../rate-limits/budget';
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
    const { hasher, phones, otp, passwordAttempts } = this.deps;
    // The same statement whether or not the account exists: it counts the attempt per email and
    // network, finds the account and asks whether it has signed in from this network, and tells
    // nothing until the budgets admit the attempt.
    const { email, key: emailCanonical } = loginEmail(rawEmail);
    const found = this.findAccount(email, emailCanonical, client.ip);
    found.catch(() => {}); // awaited in the check
    let opened: OpenedAhead | undefined;
    try {
      const { user, matches } = await passwordAttempts.check(
        emailCanonical,
        client.ip,
        async () => {
          const { user } = (await found).account;
          const matching = hasher.matches(rawPassword, user?.passwordHash);
          // The challenge is written and its token signed while the worker compares (the event
          // loop is idle meanwhile); handed out only if the password matches, withdrawn otherwise.
          if (user) opened = otp.openAhead(user, () => phones.channelsFor(user.phoneNumber));
          return { user, matches: await matching };
        },
        {
          taken: found.then(({ taken }) => taken),
          ceiling: found.then(({ ceiling }) => ceiling),
          knownNetwork: found.then(({ account }) => account.knownNetwork),
        },
      );
      if (!user || !matches) {
        if (user) this.loginFailed(user.id, client, 'wrong password');
        throw new AppError('INVALID_CREDENTIALS');
      }
      const ahead = opened!;
      const pending = await ahead.result.catch((error: unknown) => {
        // The password compared was changed (or the account deleted) before the challenge was written.
        if (isAppError(error, 'INVALID_CREDENTIALS')) this.loginFailed(user.id, client, 'password changed meanwhile');
        throw error;
      });
      // After the answer, as LOGIN_FAILED: its own statement would otherwise be the one login waits
      // for. Only while the challenge lives, unflushed: it is about the challenge, whose fate it shares.
      afterAnswer(() => ahead.recordWhilePending({ type: AuthEventType.LOGIN_SUCCEEDED, userId: user.id, client }));
      return pending;
    } catch (error) {
      if (opened) afterAnswer(opened.withdraw);
      throw error;
    }
  }

  /**
   * LOGIN_FAILED for a known email (an unknown one has no user to record it for), after the answer:
   * it must take as long for an unknown email as for a known one. `record` never throws.
   */
  private loginFailed(userId: string, client: ClientInfo, detail: string): void {
    afterAnswer(() => this.deps.audit.record({ type: AuthEventType.LOGIN_FAILED, userId, client, detail }));
  }

  /**
   * The account, whether its network is known and (counters in PostgreSQL) the attempt's points, in
   * one statement. Should it fail, the account and the network alone, the points then taken by the
   * budgets themselves (`taken` and `ceiling` undefined), so that a missing counters' table or audit
   * trail is found and logged by whoever reads it; without the audit trail, the account alone and
   * the network counts as new.
   */
  private async findAccount(
    email: string | undefined,
    emailCanonical: string,
    ip: string,
  ): Promise<{ account: LoginAccount; taken?: Taken; ceiling?: Taken }> {
    const { users, audit, passwordAttempts, logger } = this.deps;
    if (email === undefined) return { account: NO_LOGIN_ACCOUNT };
    const points = passwordAttempts.pointsInStatement(emailCanonical, ip);
    if (points) {
      const found = await users.findForLogin(email, ipBucket(ip), points).catch((err: unknown) => {
        logger.warn({ err }, 'login lookup with its attempt count failed: looking up and counting apart');
        return undefined;
      });
      if (found?.counted) {
        const { perNetwork, ceiling } = found.counted;
        return { account: found.account, taken: points.perNetwork.taken(perNetwork), ceiling: ceiling && points.ceiling.taken(ceiling) };
      }
    }
    try {
      return { account: (await users.findForLogin(email, ipBucket(ip))).account };
    } catch (err) {
      audit.unreadable(err);
      return { account: { user: await users.findByEmail(email), knownNetwork: false } };
    }
  }
}

/**
 * `work` once the answer is written: Apollo writes it in the same turn of the event loop as the
 * resolver returns (microtasks only), and `setImmediate` runs after that turn. Not even its
 * statement's send then delays the answer, nor makes a known email's answer slower than an unknown one's.
 */
function afterAnswer(work: () => unknown): void {
  setImmediate(work);
}
