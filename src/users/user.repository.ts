import { randomUUID } from 'node:crypto';
import { EntityRepository } from '@mikro-orm/postgresql';
import { signedInFrom } from '../audit/signed-in-from';
import { queryIn, SQLSTATE, type Statement, sqlStateOf } from '../db/prepared';
import { AppError } from '../errors/app-error';
import { takePoint } from '../rate-limits/shared-counts';
import { canonicalEmail } from '../validation/email';
import type { PointInStatement, PointRow } from '../rate-limits/budget';
import { User, type UserRecord } from './user.entity';

/** A `UserRecord`'s columns under table alias `u`, for plain reads that skip the ORM (see `userRecordOf`). */
export const USER_RECORD_COLUMNS = `u.id, u.email, u.email_canonical as "emailCanonical", u.phone_number as "phoneNumber",
  u.password_hash as "passwordHash", u.phone_verified_at as "phoneVerifiedAt", u.created_at as "createdAt", u.updated_at as "updatedAt"`;

/** A row read with `USER_RECORD_COLUMNS`: the ORM's pool leaves timestamps as text (the ORM parses them itself). */
export type UserRow = Omit<UserRecord, 'phoneVerifiedAt' | 'createdAt' | 'updatedAt'> & {
  phoneVerifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

export function userRecordOf(row: UserRow): UserRecord {
  return {
    ...row,
    phoneVerifiedAt: row.phoneVerifiedAt === null ? null : new Date(row.phoneVerifiedAt),
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
  };
}

const BY_EMAIL: Statement = { name: 'user_by_email', text: `select ${USER_RECORD_COLUMNS} from app_user u where u.email_canonical = $1` };

/** `BY_EMAIL`, and whether the account has signed in from network `$2` before (the audit trail's rule). */
const FOR_LOGIN: Statement = {
  name: 'user_for_login',
  text: `select ${USER_RECORD_COLUMNS}, ${signedInFrom('u.id', '$2')} as "knownNetwork" from app_user u where u.email_canonical = $1`,
};

/**
 * `FOR_LOGIN` with the attempt counted in the same statement, whether or not the account exists: a
 * point per email and network (`takePoint`: key `$3`, expire `$4`, now `$5`), and, when that point
 * is within its limit (`$9`) and the network is new, a point of the per-email ceiling (key `$6`,
 * expire `$7`, now `$8`), the rule PasswordAttempts.check applies when it takes them itself.
 */
const FOR_LOGIN_COUNTED: Statement = {
  name: 'user_for_login_counted',
  text: `with counted as (${takePoint('$3', '$4', '$5')}),
    found as (${FOR_LOGIN.text}),
    ceiling as (${takePoint('$6', '$7', '$8', `(select points from counted) <= $9 and not coalesce((select "knownNetwork" from found), false)`)})
    select counted.points as "countedPoints", counted.expire as "countedExpire",
      ceiling.points as "ceilingPoints", ceiling.expire as "ceilingExpire", found.*
    from counted left join found on true left join ceiling on true`,
};

/** The points login's statement takes (`Budget.inStatement` of each budget). */
export interface LoginPoints {
  perNetwork: PointInStatement;
  ceiling: PointInStatement;
}

/** A login's account, if any, and whether it has signed in from the client's network before. */
export interface LoginAccount {
  user: UserRecord | null;
  knownNetwork: boolean;
}

/** No account: what login checks the password against when the email is unknown or malformed. */
export const NO_LOGIN_ACCOUNT: Readonly<LoginAccount> = Object.freeze({ user: null, knownNetwork: false });

const INSERT: Statement = {
  name: 'user_insert',
  text: `insert into app_user as u (id, email, email_canonical, phone_number, password_hash, created_at, updated_at)
    values ($1, $2, $3, $4, $5, $6, $6) returning ${USER_RECORD_COLUMNS}`,
};

/**
 * Two CTEs for user `id` (a placeholder or an expression) proving the number at `at`; the second,
 * `name`, is the user's row as the statement leaves it. The first proof sets the verification
 * time; later ones (every sign-in after the first) write nothing: an UPDATE that changes no value
 * still writes a new row version, and new entries in every index of the table when the row's page
 * is full. When nothing is written the row is read from the statement's snapshot, so in the one
 * case where another statement verifies the number after that snapshot, `name` reads it unverified.
 */
export const phoneVerifiedUser = (name: string, id: string, at: string) =>
  `${name}_set as (update app_user set phone_verified_at = ${at}, updated_at = ${at}
      where id = ${id} and phone_verified_at is null returning *),
    ${name} as (select * from ${name}_set union all select * from app_user where id = ${id} and not exists (select 1 from ${name}_set))`;

const PHONE_VERIFIED: Statement = { name: 'user_phone_verified', text: `with ${phoneVerifiedUser('u', '$1', '$2')} select * from u` };

export class UserRepository extends EntityRepository<User> {
  /** By the canonical form (computed in JavaScript, as the limiter's key is), as plain data: one named statement (login). */
  async findByEmail(email: string): Promise<UserRecord | null> {
    const [row] = await queryIn<UserRow>(this.em, BY_EMAIL, [canonicalEmail(email)]);
    return row ? userRecordOf(row) : null;
  }

  /**
   * `findByEmail` and the audit trail's `hasSignedInFrom` in one statement, which also takes login's
   * points when `points` gives them (FOR_LOGIN_COUNTED): the same statement whether or not the
   * account exists. `counted`: the rows of the points it took (`ceiling` absent when not taken).
   */
  async findForLogin(
    email: string,
    network: string,
    points?: LoginPoints,
  ): Promise<{ account: LoginAccount; counted?: { perNetwork: PointRow; ceiling?: PointRow } }> {
    type Row = Partial<UserRow> & {
      knownNetwork?: boolean;
      countedPoints?: number;
      countedExpire?: string;
      ceilingPoints?: number | null;
      ceilingExpire?: string | null;
    };
    const [row] = points
      ? await queryIn<Row>(this.em, FOR_LOGIN_COUNTED, [
          canonicalEmail(email),
          network,
          ...points.perNetwork.values,
          ...points.ceiling.values,
          points.perNetwork.limit,
        ])
      : await queryIn<Row>(this.em, FOR_LOGIN, [canonicalEmail(email), network]);
    const { knownNetwork, countedPoints, countedExpire, ceilingPoints, ceilingExpire, ...user } = row ?? {};
    const counted =
      points && row
        ? {
            perNetwork: { points: countedPoints!, expire: countedExpire! },
            ceiling: ceilingPoints == null ? undefined : { points: ceilingPoints, expire: ceilingExpire! },
          }
        : undefined;
    // No account: no row (FOR_LOGIN), or the counters' rows alone (FOR_LOGIN_COUNTED).
    return { account: user.id ? { user: userRecordOf(user as UserRow), knownNetwork: knownNetwork === true } : NO_LOGIN_ACCOUNT, counted };
  }

  /** Inserts a user (one named statement); a concurrent register with the same email loses at the unique index. */
  async add(data: Pick<User, 'email' | 'phoneNumber' | 'passwordHash' | 'createdAt'>): Promise<UserRecord> {
    const { email, phoneNumber, passwordHash, createdAt } = data;
    try {
      const [row] = await queryIn<UserRow>(this.em, INSERT, [randomUUID(), email, canonicalEmail(email), phoneNumber, passwordHash, createdAt]);
      return userRecordOf(row);
    } catch (error) {
      // The only unique index a new user's row can hit (its id is random): the canonical email's.
      if (sqlStateOf(error) === SQLSTATE.uniqueViolation) throw new AppError('EMAIL_ALREADY_REGISTERED');
      throw error;
    }
  }

  /**
   * The user who just proved the number by a code: the verification time is set once (later
   * verifications keep the first). One statement; the row returned is the request's copy of the user.
   */
  async markPhoneVerified(userId: string, at: Date): Promise<User> {
    const [row] = await queryIn<Record<string, unknown>>(this.em, PHONE_VERIFIED, [userId, at]);
    if (!row) throw new AppError('UNAUTHENTICATED', { cause: new Error('user deleted') });
    return this.em.map(User, row);
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
