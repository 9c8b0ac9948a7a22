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
