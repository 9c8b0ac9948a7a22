/**
 * SQL: whether user `userId` has an event that proves a sign-in (or a step-up, or a refresh) from
 * network `network` (SQL expressions: a column, a placeholder). The rule behind the login ceiling's
 * budget for known networks; in its own module so that the user repository's login lookup can use
 * it without importing the audit trail's entities (which import the user's).
 */
export const signedInFrom = (userId: string, network: string) =>
  `exists (select 1 from auth_event e where e.user_id = ${userId} and e.ip_network = ${network}
      and e.type in ('OTP_VERIFIED', 'RECOVERY_CODE_USED', 'STEP_UP_VERIFIED', 'SESSION_REFRESHED'))`;
