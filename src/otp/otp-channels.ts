import type { Channel } from '../phones/phone-policy';
import type { SecondFactor } from '../tokens/token-service';
import type { ProviderMethod } from './otp-provider';

/** Each channel's provider method, and its RFC 8176 method reference in the access token. */
export const CHANNEL_METHOD: Record<Channel, { method: ProviderMethod; amr: SecondFactor }> = {
  SMS: { method: 'sms', amr: 'sms' },
  VOICE: { method: 'callout', amr: 'tel' },
};
