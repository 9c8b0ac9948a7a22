import { Migration } from '@mikro-orm/migrations';

/** Sends look up a number's verified owners (their live codes must not be aborted by a stranger's send). */
export class Migration20261202020000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "app_user_phone_number_index" on "app_user" ("phone_number");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "app_user_phone_number_index";`);
  }
}
