import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../../logging/logger';
import type { AuthVerification } from '../signing';
import type { FaultKind } from './faults';

export interface SinchEmulatorOptions {
  applicationKey: string;
  applicationSecret: string;
  logger: Logger;
  clock?: () => Date;
  /** Default: 6 random digits from crypto.randomInt. */
  generateCode?: () => string;
  /** Default true: accept `Basic` as well as signed requests (Sinch's per-app minimum level). */
  allowBasic?: boolean;
  /**
   * Refuse x-timestamps further than this from the emulator's clock (40101). Off by default:
   * Sinch's limit is unconfirmed, and tests move the emulator's clock on its own.
   */
  maxTimestampSkewSeconds?: number;
  /** Where Sinch's signed callbacks go; without it none are sent (Sinch without a callback URL). */
  callbackUrl?: string;
  /** Default 5000. How long Sinch waits for a callback's answer is unconfirmed. */
  callbackTimeoutMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** As received: literal `+` kept, no query string. */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  receivedAt: Date;
  auth: AuthVerification;
  /** The status the emulator answered; absent while in flight, when dropped or when an interceptor took over. */
  responseStatus?: number;
  /** The injected fault this request met, if any. */
  fault?: FaultKind['kind'];
}

/**
 * Runs before authentication and routing. Return true once it has answered (or destroyed the
 * socket) to take the request over. For one-off tricks; `injectFault` covers the usual faults.
 */
export type RequestInterceptor = (request: RecordedRequest, response: ServerResponse) => boolean | Promise<boolean>;
