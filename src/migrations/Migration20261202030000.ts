import { Migration } from '@mikro-orm/migrations';
import { canonicalEmail } from '../validation/email';

/**
 * One canonical form of an email, computed in JavaScript and stored: lookups, uniqueness and the
 * per-email limiter compare the same thing (PostgreSQL's lower() disagreed with JavaScript's on İ
 * and the Greek final sigma). Existing rows are filled by the same function the service uses.
 */
export class Migration20261202030000 extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table "app_user" add column "email_canonical" text null;`);
    const users = (await this.execute(`select "id", "email" from "app_user";`)) as Array<{ id: string; email: string }>;
    for (const user of users) {
      await this.execute(`update "app_user" set "email_canonical" = ? where "id" = ?;`, [canonicalEmail(user.email), user.id]);
    }
    await this.execute(`alter table "app_user" alter column "email_canonical" set not null;`);
    await this.execute(`create unique index "app_user_email_canonical_unique" on "app_user" ("email_canonical");`);
    await this.execute(`drop index "app_user_email_lower_unique";`);
  }

  override async down(): Promise<void> {
    this.addSql(`create unique index "app_user_email_lower_unique" on "app_user" (lower("email"));`);
    this.addSql(`drop index "app_user_email_canonical_unique";`);
    this.addSql(`alter table "app_user" drop column "email_canonical";`);
  }
}
