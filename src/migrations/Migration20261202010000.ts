import { Migration } from '@mikro-orm/migrations';

/** Step-up and phone-change challenges, recovery codes, and the audit trail. */
export class Migration20261202010000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "otp_challenge_purpose" as enum ('sign_in', 'step_up', 'phone_change');`);
    this.addSql(
      `alter table "otp_challenge" add column "purpose" "otp_challenge_purpose" not null default 'sign_in', add column "session_id" uuid null, add column "phone_number" text null;`,
    );
    this.addSql(`create index "otp_challenge_session_id_index" on "otp_challenge" ("session_id");`);
    this.addSql(
      `alter table "otp_challenge" add constraint "otp_challenge_session_id_foreign" foreign key ("session_id") references "auth_session" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `create table "recovery_code" ("id" uuid not null, "user_id" uuid not null, "code_hash" text not null, "created_at" timestamptz not null, "used_at" timestamptz null, constraint "recovery_code_pkey" primary key ("id"));`,
    );
    this.addSql(`create unique index "recovery_code_user_id_code_hash_unique" on "recovery_code" ("user_id", "code_hash");`);
    this.addSql(
      `alter table "recovery_code" add constraint "recovery_code_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `create type "auth_event_type" as enum ('REGISTERED', 'LOGIN_SUCCEEDED', 'LOGIN_FAILED', 'OTP_SENT', 'OTP_VERIFIED', 'OTP_FAILED', 'RECOVERY_CODE_USED', 'RECOVERY_CODES_REGENERATED', 'SESSION_REFRESHED', 'SESSION_REUSE_DETECTED', 'LOGGED_OUT', 'SESSION_REVOKED', 'PASSWORD_CHANGED', 'PHONE_NUMBER_CHANGED', 'STEP_UP_VERIFIED');`,
    );
    this.addSql(
      `create table "auth_event" ("id" uuid not null, "seq" bigserial, "user_id" uuid not null, "type" "auth_event_type" not null, "at" timestamptz not null, "ip_address" text null, "user_agent" text null, "session_id" uuid null, "detail" text null, constraint "auth_event_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "auth_event_user_seq_index" on "auth_event" ("user_id", "seq");`);
    this.addSql(`create index "auth_event_at_index" on "auth_event" ("at");`);
    this.addSql(
      `alter table "auth_event" add constraint "auth_event_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "auth_event";`);
    this.addSql(`drop type "auth_event_type";`);
    this.addSql(`drop table if exists "recovery_code";`);
    this.addSql(`alter table "otp_challenge" drop constraint "otp_challenge_session_id_foreign";`);
    this.addSql(`alter table "otp_challenge" drop column "purpose", drop column "session_id", drop column "phone_number";`);
    this.addSql(`drop type "otp_challenge_purpose";`);
  }
}
