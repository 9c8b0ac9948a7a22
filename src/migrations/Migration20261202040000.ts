import { Migration } from '@mikro-orm/migrations';

/** The client network of each audit event: where an account has signed in from before (login's per-email ceiling spares it). */
export class Migration20261202040000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "auth_event" add column "ip_network" text null;`);
    this.addSql(`create index "auth_event_user_network_index" on "auth_event" ("user_id", "ip_network");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "auth_event_user_network_index";`);
    this.addSql(`alter table "auth_event" drop column "ip_network";`);
  }
}
