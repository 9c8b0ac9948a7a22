import { Migration } from '@mikro-orm/migrations';

/**
 * requestOtp's reservation of a send, one round trip instead of a transaction of four (BEGIN, the
 * challenge read with its destination's send lock, the conditional UPDATE, COMMIT): the same steps,
 * in the same order, inside one function call. Each statement of a volatile PL/pgSQL function takes
 * a fresh snapshot, so the check that follows the lock sees every send reserved by whoever held it
 * before, exactly as the separate statements did. The function takes the send lock and then one
 * challenge row lock, in that order, and nothing else: it cannot be part of a deadlock.
 *
 * The per-number conditions (a send in flight, a verified owner's live code) are functions too, so
 * the reservation and the queries that explain a refusal (src/otp/otp-challenge.repository.ts)
 * share one definition.
 */
export class Migration20261203010000 extends Migration {
  override async up(): Promise<void> {
    // A send reserved whose answer is not recorded yet: recording sets `code_expires_at` to at least
    // `last_sent_at` + the code's lifetime; a reservation moves `last_sent_at` past the previous code's.
    this.addSql(`create function "otp_send_in_flight"(c "otp_challenge", p_code_ttl_seconds int) returns boolean
      language sql immutable as $$
        select c.last_sent_at is not null
          and (c.code_expires_at is null or c.code_expires_at < c.last_sent_at + make_interval(secs => p_code_ttl_seconds))
      $$;`);
    // Until when another user who has proven the number has a live code for it, or a send to it in
    // flight (a send to the number now would make Sinch abort that code); null when nobody has.
    // PL/pgSQL rather than SQL: a SQL function that cannot be inlined (this one aggregates) is
    // planned again on every call (about 0.3 ms here); PL/pgSQL keeps its plan per connection.
    this.addSql(`create function "otp_owners_live_code_until"(p_e164 text, p_requester_id uuid, p_now timestamptz, p_code_ttl_seconds int)
      returns timestamptz language plpgsql stable as $$
      begin
        return (select max(greatest(c.code_expires_at, c.last_sent_at + make_interval(secs => p_code_ttl_seconds)))
          from "otp_challenge" c join "app_user" u on u.id = c.user_id
          where u.phone_number = p_e164 and u.phone_verified_at is not null and u.id <> p_requester_id
            and c.status = 'pending' and c.expires_at > p_now and coalesce(c.phone_number, u.phone_number) = p_e164
            and (c.code_expires_at > p_now or "otp_send_in_flight"(c, p_code_ttl_seconds)));
      end
      $$;`);
    // A send of the challenge (of the user, for the purpose) by the channel reserved at p_now, with
    // the reference: while the challenge is live (and, for a step-up or a phone change, the session
    // that asked), takes that channel, has sends left and is past its cooldown (its latest send at
    // or before p_cooldown_start, or reported undelivered), and, for a number the user has not
    // proven, while no verified owner has a live code. Answers the challenge as reserved, where
    // its codes go and whether its user has proven that number, and the challenge as it was before
    // (what giving the send back restores); no row when the send is refused (the caller reads the
    // challenge to say why).
    this.addSql(`create function "otp_reserve_send"(
        p_id uuid, p_user_id uuid, p_purpose text, p_channel text, p_now timestamptz, p_reference text,
        p_max_sends int, p_cooldown_start timestamptz, p_code_ttl_seconds int)
      returns table ("challenge" jsonb, "destination" text, "proven" boolean, "previous" jsonb)
      language plpgsql volatile as $$
      declare
        old_row "otp_challenge";
      begin
        select coalesce(c.phone_number, u.phone_number), coalesce(c.phone_number, u.phone_number) = u.phone_number and u.phone_verified_at is not null
          into destination, proven
          from "otp_challenge" c join "app_user" u on u.id = c.user_id
          where c.id = p_id and c.user_id = p_user_id;
        if not found then
          return;
        end if;
        -- Every send to one number waits here until the one before it is reserved and committed.
        perform pg_advisory_xact_lock(hashtextextended('send:' || destination, 0));
        select * into old_row from "otp_challenge" c where c.id = p_id for update;
        return query
          with reserved as (
            update "otp_challenge" c
              set send_count = c.send_count + 1, last_sent_at = p_now, send_reference = p_reference, send_channel = p_channel,
                delivery_failed_at = null
              where c.id = p_id and c.purpose::text = p_purpose and p_channel = any (c.channels)
                and c.status = 'pending' and c.consumed_at is null and c.expires_at > p_now
                and (c.purpose = 'sign_in' or exists (
                  select 1 from "auth_session" s where s.id = c.session_id and s.expires_at > p_now and s.idle_expires_at > p_now))
                and c.send_count < p_max_sends
                and (c.last_sent_at is null or c.last_sent_at <= p_cooldown_start or c.delivery_failed_at is not null)
                and (proven or "otp_owners_live_code_until"(destination, p_user_id, p_now, p_code_ttl_seconds) is null)
              returning c.*)
          select to_jsonb(r), destination, proven, to_jsonb(old_row) from reserved r;
      end
      $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function "otp_reserve_send"(uuid, uuid, text, text, timestamptz, text, int, timestamptz, int);`);
    this.addSql(`drop function "otp_owners_live_code_until"(text, uuid, timestamptz, int);`);
    this.addSql(`drop function "otp_send_in_flight"("otp_challenge", int);`);
  }
}
