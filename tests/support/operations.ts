// The contract's operations, as a client would write them.
export const REGISTER = `mutation Register($input: RegisterInput!) {
  register(input: $input) { pendingToken expiresAt phoneNumberHint channels }
}`;

export const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { pendingToken expiresAt phoneNumberHint channels }
}`;

export const REQUEST_OTP = `mutation RequestOtp($input: RequestOtpInput!) {
  requestOtp(input: $input) { channel expiresAt resendAvailableAt attemptsRemaining voiceAvailableAt }
}`;

const SESSION_FIELDS = 'id createdAt lastUsedAt expiresAt authenticatedAt amr userAgent ipAddress current';
const AUTH_PAYLOAD_FIELDS = `accessToken tokenType expiresAt refreshToken refreshExpiresAt
  session { ${SESSION_FIELDS} } user { id email phoneNumber phoneVerified createdAt }`;

export const VERIFY_OTP = `mutation VerifyOtp($input: VerifyOtpInput!) {
  verifyOtp(input: $input) { ${AUTH_PAYLOAD_FIELDS} }
}`;

export const REFRESH_SESSION = `mutation RefreshSession($input: RefreshSessionInput!) {
  refreshSession(input: $input) { ${AUTH_PAYLOAD_FIELDS} }
}`;

export const SESSIONS = `query Sessions { sessions { ${SESSION_FIELDS} } }`;
export const LOGOUT = 'mutation Logout { logout }';
export const LOGOUT_EVERYWHERE = 'mutation LogoutEverywhere { logoutEverywhere }';
export const REVOKE_SESSION = `mutation RevokeSession($input: RevokeSessionInput!) { revokeSession(input: $input) }`;

export const ME = `query Me { me { id email phoneNumber phoneVerified createdAt } }`;

const PENDING_FIELDS = 'pendingToken expiresAt phoneNumberHint channels';

export const REAUTHENTICATE = `mutation Reauthenticate { reauthenticate { ${PENDING_FIELDS} } }`;

export const START_PHONE_NUMBER_CHANGE = `mutation StartPhoneNumberChange($input: StartPhoneNumberChangeInput!) {
  startPhoneNumberChange(input: $input) { ${PENDING_FIELDS} }
}`;

export const VERIFY_RECOVERY_CODE = `mutation VerifyRecoveryCode($input: VerifyRecoveryCodeInput!) {
  verifyRecoveryCode(input: $input) { ${AUTH_PAYLOAD_FIELDS} }
}`;

export const REGENERATE_RECOVERY_CODES = 'mutation RegenerateRecoveryCodes { regenerateRecoveryCodes { codes createdAt } }';

export const CHANGE_PASSWORD = `mutation ChangePassword($input: ChangePasswordInput!) { changePassword(input: $input) }`;

export const DELETE_ACCOUNT = `mutation DeleteAccount($input: DeleteAccountInput!) { deleteAccount(input: $input) }`;

export const AUTH_EVENTS = `query AuthEvents($first: Int, $after: String) {
  authEvents(first: $first, after: $after) {
    edges { cursor node { id type at ipAddress userAgent sessionId detail } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ME_WITH_RECOVERY = `query MeWithRecovery { me { id email phoneNumber phoneVerified recoveryCodesRemaining } }`;
