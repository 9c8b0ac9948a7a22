import { Migration } from '@mikro-orm/migrations';

/** Signed Sinch callbacks already processed (a byte-identical replay inside the timestamp window changes nothing). */
export class Migration20261202050000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "seen_callback" ("digest" text not null, "expires_at" timestamptz not null, constraint "seen_callback_pkey" primary key ("digest"));`,
    );
    this.addSql(`create index "seen_callback_expires_at_index" on "seen_callback" ("expires_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "seen_callback";`);
  }
}
