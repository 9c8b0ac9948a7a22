import { EntityRepository, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { AppError } from '../errors/app-error';
import { canonicalEmail } from '../validation/email';
import { User } from './user.entity';

export class UserRepository extends EntityRepository<User> {
  /** By the canonical form (computed in JavaScript, as the limiter's key is). */
  findByEmail(email: string): Promise<User | null> {
    return this.findOne({ emailCanonical: canonicalEmail(email) });
  }

  /** Inserts a user; a concurrent register with the same email loses at the unique index. */
  async add(data: Pick<User, 'email' | 'phoneNumber' | 'passwordHash' | 'createdAt'>): Promise<User> {
    const user = this.create({ ...data, emailCanonical: canonicalEmail(data.email), updatedAt: data.createdAt, phoneVerifiedAt: null });
    try {
      await this.em.persistAndFlush(user);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw new AppError('EMAIL_ALREADY_REGISTERED');
      throw error;
    }
    return user;
  }

  /** Sets the verification time once; later verifications keep the first. */
  async markPhoneVerified(userId: string, at: Date): Promise<void> {
    await this.nativeUpdate({ id: userId, phoneVerifiedAt: null }, { phoneVerifiedAt: at, updatedAt: at });
  }

  /**
   * Holds the user's row until the transaction ends: account changes that replace something
   * (a recovery-code set, a pending phone change) take turns, so two at once cannot both stay.
   */
  async lock(userId: string): Promise<void> {
    const rows = await this.em.execute('select id from app_user where id = ? for update', [userId]);
    if (rows.length === 0) throw new AppError('UNAUTHENTICATED', { cause: new Error('user deleted') });
  }
}
