import type { Logger } from 'pino';
import type { Clock } from '../time/clock';
import { destinationOf } from './otp-challenge.entity';
import type { OtpChallengeRepository } from './otp-challenge.repository';
import { CHANNEL_METHOD } from './otp-channels';
import type { ProviderEvents, ProviderMethod } from './otp-provider';

/**
 * The provider's callbacks, checked against our own live challenges. A verification may start
 * only when it is the send we are making right now, to that user's number, by that channel: a
 * leaked application key then cannot pump SMS through our account.
 */
export class OtpProviderEvents implements ProviderEvents {
  constructor(
    private readonly deps: {
      challenges: OtpChallengeRepository;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async mayStart(input: { reference: string; phoneNumber: string; method: ProviderMethod }): Promise<boolean> {
    const { challenges, clock, logger } = this.deps;
    const challenge = await challenges.findBySendReference(input.reference, clock.now());
    const allowed =
      challenge !== null &&
      destinationOf(challenge) === input.phoneNumber &&
      challenge.sendChannel !== null &&
      challenge.sendChannel !== undefined &&
      CHANNEL_METHOD[challenge.sendChannel].method === input.method;
    if (!allowed) logger.warn({ method: input.method, known: challenge !== null }, 'denied a verification we did not start');
    return allowed;
  }

  async deliveryFailed(input: { reference?: string; verificationId: string }): Promise<void> {
    const { challenges, clock, logger } = this.deps;
    const marked = await challenges.markDeliveryFailed(input, clock.now());
    if (marked) logger.info({ challengeId: marked.id, channel: marked.sendChannel }, 'code reported undelivered: a new send is allowed at once');
  }
}
