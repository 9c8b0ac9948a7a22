import { Migration } from '@mikro-orm/migrations';

/**
 * Pending challenges skip the write-ahead log, as the rate-limit counters do: requestOtp's
 * reservation and verifyOtp's attempt count (statements that change nothing else) no longer wait
 * for a disk flush at commit. A challenge lives as long as its pending token (10 minutes by
 * default) and holds nothing the audit trail does not: the price, documented in the README, is
 * that a PostgreSQL crash (not a clean restart) or a fail-over to a replica ends every sign-in,
 * step-up and phone change still waiting for its code (their pending tokens then answer
 * UNAUTHENTICATED: log in again). No table references this one (PostgreSQL refuses a permanent
 * table's foreign key to an unlogged table).
 */
export class Migration20261203000000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "otp_challenge" set unlogged;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "otp_challenge" set logged;`);
  }
}
