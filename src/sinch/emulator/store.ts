import { randomUUID } from 'node:crypto';
import { safeEqual } from '../signing';
import { SinchApiFault } from './faults';

export type EmulatedMethod = 'sms' | 'callout' | 'flashcall' | 'whatsapp';
export type CodeType = 'Numeric' | 'Alpha' | 'Alphanumeric';
export type VerificationStatus = 'PENDING' | 'SUCCESSFUL' | 'FAIL' | 'DENIED' | 'ABORTED' | 'ERROR';

export interface EmulatedVerification {
  id: string;
  method: EmulatedMethod;
  endpoint: string;
  reference?: string;
  custom?: string;
  codeType: CodeType;
  /** What completes it: the code, or for a flash call the caller id (CLI). */
  secret: string;
  createdAt: Date;
  expiresAt: Date;
  /** Flash call only: how long the phone rings and the SDK listens. */
  interceptionTimeoutSeconds?: number;
  status: VerificationStatus;
  reason?: string;
  /** Every report received for it, right or wrong. */
  reports: number;
  source?: 'manual';
}

export interface StartRequest {
  method: EmulatedMethod;
  endpoint: string;
  reference?: string;
  custom?: string;
  codeType: CodeType;
  ttlSeconds: number;
  interceptionTimeoutSeconds?: number;
}

export type StoreEvent = { type: 'started' | 'changed'; verification: Readonly<EmulatedVerification> };

/** Beyond this many, the oldest are forgotten, so a long-running dev emulator stays small. */
const MAX_KEPT = 10_000;

/**
 * The verification state machine. Time only moves through the injected clock, so expiry is
 * applied lazily whenever a verification is looked at.
 *
 * A wrong code answers FAIL / `Invalid code` and the verification stays reportable until it
 * expires, is replaced or succeeds. How many wrong reports real Sinch tolerates is unconfirmed;
 * our service enforces its own attempt limit, so the emulator does not invent one.
 * Once final (SUCCESSFUL, ABORTED, expired), any further report answers that final state.
 */
export class VerificationStore {
  private readonly byId = new Map<string, EmulatedVerification>();

  constructor(
    private readonly clock: () => Date,
    private readonly generateCode: () => string,
    private readonly onEvent: (event: StoreEvent) => void,
  ) {}

  start(request: StartRequest): EmulatedVerification {
    if (request.reference !== undefined && this.findByReference(request.reference)) {
      throw new SinchApiFault(409, 40900, 'Reference already defined');
    }
    const now = this.clock();
    // Sinch: a new verification for a number aborts the one still pending for it.
    for (const older of this.byId.values()) {
      if (older.endpoint === request.endpoint && this.isOpen(older)) {
        this.change(older, 'ABORTED', undefined);
      }
    }
    const code = this.generateCode();
    const verification: EmulatedVerification = {
      id: randomUUID(),
      method: request.method,
      endpoint: request.endpoint,
      reference: request.reference,
      custom: request.custom,
      codeType: request.codeType,
      secret: request.method === 'flashcall' ? `+46700${code.padStart(6, '0').slice(-6)}` : code,
      createdAt: now,
      expiresAt: new Date(now.getTime() + request.ttlSeconds * 1000),
      interceptionTimeoutSeconds: request.interceptionTimeoutSeconds,
      status: 'PENDING',
      reports: 0,
    };
    this.byId.set(verification.id, verification);
    this.forgetOldest();
    this.onEvent({ type: 'started', verification });
    return verification;
  }

  report(verification: EmulatedVerification, method: EmulatedMethod, secret: string): EmulatedVerification {
    this.expireIfDue(verification);
    if (!this.isOpen(verification)) return verification;
    if (method !== verification.method) throw new SinchApiFault(400, 40003, 'Invalid identity or code.');
    verification.reports += 1;
    if (safeEqual(secret, verification.secret)) {
      verification.source = 'manual';
      this.change(verification, 'SUCCESSFUL', undefined);
    } else {
      this.change(verification, 'FAIL', method === 'flashcall' ? 'Invalid CLI' : 'Invalid code');
    }
    return verification;
  }

  /** Sinch ends it on its own: refused by the callback, or the SMS could not be delivered. */
  end(verification: EmulatedVerification, status: 'DENIED' | 'ERROR', reason: string): void {
    if (this.isOpen(verification)) this.change(verification, status, reason);
  }

  get(id: string): EmulatedVerification | undefined {
    const verification = this.byId.get(id);
    if (verification) this.expireIfDue(verification);
    return verification;
  }

  findByReference(reference: string): EmulatedVerification | undefined {
    return this.latest((v) => v.reference === reference);
  }

  /** The newest for a number (and method, when given): what Sinch's identity routes act on. */
  findLatest(endpoint: string, method?: EmulatedMethod): EmulatedVerification | undefined {
    return this.latest((v) => v.endpoint === endpoint && (method === undefined || v.method === method));
  }

  all(): EmulatedVerification[] {
    for (const verification of this.byId.values()) this.expireIfDue(verification);
    return [...this.byId.values()];
  }

  /** PENDING, or FAIL after a wrong code: still completable with the right one. */
  isOpen(verification: EmulatedVerification): boolean {
    this.expireIfDue(verification);
    return completable(verification);
  }

  private latest(match: (v: EmulatedVerification) => boolean): EmulatedVerification | undefined {
    const found = [...this.byId.values()].reverse().find(match);
    if (found) this.expireIfDue(found);
    return found;
  }

  private expireIfDue(verification: EmulatedVerification): void {
    if (completable(verification) && this.clock().getTime() >= verification.expiresAt.getTime()) {
      this.change(verification, 'FAIL', 'Expired');
    }
  }

  private change(verification: EmulatedVerification, status: VerificationStatus, reason: string | undefined): void {
    verification.status = status;
    verification.reason = reason;
    this.onEvent({ type: 'changed', verification });
  }

  private forgetOldest(): void {
    while (this.byId.size > MAX_KEPT) {
      const oldest = this.byId.keys().next().value;
      if (oldest === undefined) return;
      this.byId.delete(oldest);
    }
  }
}

function completable(verification: EmulatedVerification): boolean {
  return (
    verification.status === 'PENDING' ||
    (verification.status === 'FAIL' && (verification.reason === 'Invalid code' || verification.reason === 'Invalid CLI'))
  );
}
