import { Migration } from '@mikro-orm/migrations';

export class Migration20261127232332 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "otp_challenge_status" as enum ('pending', 'verified', 'locked');`);
    this.addSql(
      `create table "app_user" ("id" uuid not null, "email" text not null, "phone_number" text not null, "password_hash" text not null, "phone_verified_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "app_user_pkey" primary key ("id"));`,
    );
    this.addSql(`create unique index "app_user_email_lower_unique" on "app_user" (lower("email"));`);

    this.addSql(
      `create table "otp_challenge" ("id" uuid not null, "user_id" uuid not null, "status" "otp_challenge_status" not null default 'pending', "channels" text[] not null, "send_count" int not null default 0, "last_sent_at" timestamptz null, "code_attempts" int not null default 0, "verification_id" text null, "channel" text null, "code_expires_at" timestamptz null, "expires_at" timestamptz not null, "consumed_at" timestamptz null, "created_at" timestamptz not null, constraint "otp_challenge_pkey" primary key ("id"));`,
    );
    // Counters are only changed by conditional updates; these checks catch a bug, not a user.
    this.addSql(`alter table "otp_challenge" add constraint "otp_challenge_counters_check" check ("send_count" >= 0 and "code_attempts" >= 0);`);
    this.addSql(`alter table "otp_challenge" add constraint "otp_challenge_channel_check" check ("channel" in ('SMS', 'VOICE'));`);
    this.addSql(`create index "otp_challenge_user_id_index" on "otp_challenge" ("user_id");`);

    this.addSql(
      `alter table "otp_challenge" add constraint "otp_challenge_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "otp_challenge" drop constraint "otp_challenge_user_id_foreign";`);

    this.addSql(`drop table if exists "app_user" cascade;`);

    this.addSql(`drop table if exists "otp_challenge" cascade;`);

    this.addSql(`drop type "otp_challenge_status";`);
  }
}
