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

export const VERIFY_OTP = `mutation VerifyOtp($input: VerifyOtpInput!) {
  verifyOtp(input: $input) { accessToken tokenType expiresAt user { id email phoneNumber phoneVerified createdAt } }
}`;

export const ME = `query Me { me { id email phoneNumber phoneVerified createdAt } }`;
