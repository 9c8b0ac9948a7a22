import { Migration } from '@mikro-orm/migrations';

/** Sessions and their refresh-token chains (src/sessions). */
export class Migration20261202000000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "auth_session" ("id" uuid not null, "user_id" uuid not null, "created_at" timestamptz not null, "last_used_at" timestamptz not null, "expires_at" timestamptz not null, "idle_expires_at" timestamptz not null, "authenticated_at" timestamptz not null, "amr" text[] not null, "user_agent" text null, "ip_address" text null, constraint "auth_session_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "auth_session_user_id_index" on "auth_session" ("user_id");`);
    this.addSql(`create index "auth_session_expires_at_index" on "auth_session" ("expires_at");`);
    this.addSql(`create index "auth_session_idle_expires_at_index" on "auth_session" ("idle_expires_at");`);
    this.addSql(
      `alter table "auth_session" add constraint "auth_session_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `create table "refresh_token" ("token_hash" text not null, "session_id" uuid not null, "previous_hash" text null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, constraint "refresh_token_pkey" primary key ("token_hash"));`,
    );
    this.addSql(`create index "refresh_token_session_id_index" on "refresh_token" ("session_id");`);
    this.addSql(`create index "refresh_token_expires_at_index" on "refresh_token" ("expires_at");`);
    this.addSql(
      `alter table "refresh_token" add constraint "refresh_token_session_id_foreign" foreign key ("session_id") references "auth_session" ("id") on update cascade on delete cascade;`,
    );

    // Expired pending sign-ins are deleted on a schedule (src/maintenance/janitor.ts).
    this.addSql(`create index "otp_challenge_expires_at_index" on "otp_challenge" ("expires_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "otp_challenge_expires_at_index";`);
    this.addSql(`drop table if exists "refresh_token";`);
    this.addSql(`drop table if exists "auth_session";`);
  }
}
