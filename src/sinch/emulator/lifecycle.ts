import type { Logger } from '../../logging/logger';
import { maskPhone } from '../../phones/mask';
import { type CallbackSender, resultEvent, smsDeliveredEvent } from './callbacks';
import type { EmulatedVerification, VerificationStore } from './store';

/**
 * What Sinch does around a verification besides answering requests: asks the backend before
 * sending, "sends" the code (logs it), reports delivery and final results through callbacks.
 */
export class VerificationLifecycle {
  private readonly undeliverable = new Set<string>();

  constructor(
    private readonly store: VerificationStore,
    private readonly logger: Logger,
    private readonly sender: CallbackSender | undefined,
  ) {}

  failDeliveryTo(phoneNumber: string): void {
    this.undeliverable.add(phoneNumber);
  }

  /** Between creating a verification and answering the start: Sinch asks the backend first. */
  async approve(v: EmulatedVerification): Promise<void> {
    const approval = this.sender ? await this.sender.requestApproval(v) : 'allow';
    if (approval !== 'allow') this.store.end(v, 'DENIED', approval === 'deny' ? 'Denied by callback' : 'Invalid callback');
    // Still PENDING unless refused (or replaced by a newer start while the backend thought).
    if (v.status === 'PENDING') this.logCode(v);
  }

  /** After the start's answer: the SMS is delivered, or not. */
  delivered(v: EmulatedVerification): void {
    if (v.method !== 'sms' || v.status !== 'PENDING') return;
    const failed = this.undeliverable.has(v.endpoint);
    this.sender?.notify('VerificationSmsDeliveredEvent', v, smsDeliveredEvent(v, failed ? 'Failed' : 'Successful'));
    if (failed) this.store.end(v, 'ERROR', 'SMS delivery failure');
  }

  changed(v: Readonly<EmulatedVerification>): void {
    if (this.sender && hasResult(v)) this.sender.notify('VerificationResultEvent', v, resultEvent(v));
  }

  /** The only line in the product that shows a code: the emulator is how a developer receives it. */
  private logCode(v: Readonly<EmulatedVerification>): void {
    const phone = maskPhone(v.endpoint);
    const what = {
      sms: `SMS code ${v.secret} for ${phone}`,
      whatsapp: `WhatsApp code ${v.secret} for ${phone}`,
      callout: `voice call code ${v.secret} for ${phone}`,
      flashcall: `flash call from ${v.secret} to ${phone}`,
    }[v.method];
    this.logger.info({ verificationId: v.id, method: v.method }, `Sinch emulator: ${what} (verification ${v.id})`);
  }
}

/**
 * Final states Sinch reports with a VerificationResultEvent. A refused start is not one of them
 * here: its start answer says DENIED (whether Sinch also sends an event is unconfirmed); and
 * FAIL / `Invalid code` stays reportable in this emulator, so it is not final.
 */
function hasResult(v: Readonly<EmulatedVerification>): boolean {
  if (v.status === 'FAIL') return v.reason !== 'Invalid code' && v.reason !== 'Invalid CLI';
  return v.status === 'SUCCESSFUL' || v.status === 'ABORTED' || v.status === 'ERROR';
}
