import { Migration } from '@mikro-orm/migrations';

/**
 * requestOtp's reservation, refused while the user's wrong-code budget is spent: a code sent then
 * could not be verified (verifyOtp answers OTP_ATTEMPTS_EXCEEDED until the budget frees), so the
 * SMS or call would be wasted. The budget's row (`rate_limit`, rate-limiter-flexible's table: the
 * points taken in the window, its end in epoch ms) is read in the same call as the reservation, so
 * requestOtp keeps its one round trip. `p_budget_key` null: the budget is counted elsewhere (Redis,
 * memory) and read by the caller. Without the table the check is skipped, so that a counters'
 * store failure is not the send's failure (the wrong codes themselves are still counted and
 * refused, in memory).
 */
export class Migration20261204220000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "otp_reserve_send_unless_exhausted"(
        p_budget_key text, p_budget_limit int, p_now_ms bigint,
        p_id uuid, p_user_id uuid, p_purpose text, p_channel text, p_now timestamptz, p_reference text,
        p_max_sends int, p_cooldown_start timestamptz, p_code_ttl_seconds int)
      returns table ("challenge" jsonb, "destination" text, "proven" boolean, "previous" jsonb, "exhausted_until" bigint)
      language plpgsql volatile as $$
      declare
        budget_end bigint;
      begin
        -- Without the counters' table (dropped, not restored yet) the service counts in memory
        -- (LimiterStore's fallback) and the send goes ahead as before this check.
        if p_budget_key is not null and to_regclass('rate_limit') is not null then
          select r.expire into budget_end from "rate_limit" r
            where r.key = p_budget_key and r.points >= p_budget_limit and r.expire > p_now_ms;
          if found then
            return query select null::jsonb, null::text, null::boolean, null::jsonb, budget_end;
            return;
          end if;
        end if;
        return query select r.challenge, r.destination, r.proven, r.previous, null::bigint
          from "otp_reserve_send"(p_id, p_user_id, p_purpose, p_channel, p_now, p_reference, p_max_sends, p_cooldown_start, p_code_ttl_seconds) r;
      end
      $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `drop function "otp_reserve_send_unless_exhausted"(text, int, bigint, uuid, uuid, text, text, timestamptz, text, int, timestamptz, int);`,
    );
  }
}
