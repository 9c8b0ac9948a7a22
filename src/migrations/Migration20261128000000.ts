import { Migration } from '@mikro-orm/migrations';

/**
 * Counters of rate-limiter-flexible's PostgreSQL store (src/rate-limits), shared by every
 * replica on this database. Its shape is the library's; the ORM's schema diff skips the table.
 */
export class Migration20261128000000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "rate_limit" ("key" varchar(255) primary key, "points" integer not null default 0, "expire" bigint);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "rate_limit";`);
  }
}
