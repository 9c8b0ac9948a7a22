import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import type { OtpService, PendingAuthResult } from '../otp/otp.service';
import { normalizePassword, checkNewPassword, MAX_PASSWORD_BYTES } from '../passwords/password-rules';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { PhonePolicy } from '../phones/phone-policy';
import type { Clock } from '../time/clock';
import { normalizeEmail, requireEmail } from '../validation/email';
import type { UserRepository } from '../users/user.repository';
import { utf8Length } from '../validation/text';

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
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async register(input: RegisterInput): Promise<PendingAuthResult> {
    const { users, hasher, phones, otp, clock, logger } = this.deps;
    // Field by field, cheapest first, all before any database or bcrypt work.
    const email = requireEmail(input.email);
    const password = normalizePassword(input.password);
    checkNewPassword(password);
    const phone = phones.accept(input.phoneNumber, input.country);
    if (await users.findByEmail(email)) throw new AppError('EMAIL_ALREADY_REGISTERED');

    const passwordHash = await hasher.hash(password);
    const user = await users.add({ email, phoneNumber: phone.e164, passwordHash, createdAt: clock.now() });
    logger.info({ userId: user.id }, 'user registered');
    return otp.open(user, phone.channels);
  }

  /**
   * Unknown email, wrong password and malformed input all answer INVALID_CREDENTIALS after the
   * same bcrypt work, so neither the answer nor its timing tells whether an account exists.
   */
  async login(rawEmail: string, rawPassword: string): Promise<PendingAuthResult> {
    const { users, hasher, phones, otp } = this.deps;
    const email = normalizeEmail(rawEmail);
    const password = normalizePassword(rawPassword);
    const wellFormed = email !== undefined && password.length > 0 && utf8Length(password) <= MAX_PASSWORD_BYTES;
    const user = wellFormed ? await users.findByEmail(email) : null;
    const matches = await hasher.verifyOrBurn(password.slice(0, MAX_PASSWORD_BYTES), user?.passwordHash);
    if (!user || !matches) throw new AppError('INVALID_CREDENTIALS');
    return otp.open(user, phones.channelsFor(user.phoneNumber));
  }
}
