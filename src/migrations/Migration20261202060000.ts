import { Migration } from '@mikro-orm/migrations';

/**
 * The rate-limit counters skip the write-ahead log: a counter write no longer waits for a disk
 * flush at commit (about a millisecond each, several per sign-in). The price, documented in the
 * README: after a PostgreSQL crash (not a clean restart) or a fail-over to a replica, the counters
 * start again from zero.
 */
export class Migration20261202060000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rate_limit" set unlogged;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rate_limit" set logged;`);
  }
}
