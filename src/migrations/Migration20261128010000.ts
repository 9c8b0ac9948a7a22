import { Migration } from '@mikro-orm/migrations';

/** The send in flight (its Sinch reference and channel) and delivery failures reported by callbacks. */
export class Migration20261128010000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "otp_challenge" add column "send_reference" text null, add column "send_channel" text null, add column "delivery_failed_at" timestamptz null;`,
    );
    this.addSql(`alter table "otp_challenge" add constraint "otp_challenge_send_channel_check" check ("send_channel" in ('SMS', 'VOICE'));`);
    this.addSql(`create unique index "otp_challenge_send_reference_unique" on "otp_challenge" ("send_reference");`);
    this.addSql(`create index "otp_challenge_verification_id_index" on "otp_challenge" ("verification_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "otp_challenge_verification_id_index";`);
    this.addSql(`drop index "otp_challenge_send_reference_unique";`);
    this.addSql(`alter table "otp_challenge" drop constraint "otp_challenge_send_channel_check";`);
    this.addSql(`alter table "otp_challenge" drop column "send_reference", drop column "send_channel", drop column "delivery_failed_at";`);
  }
}
