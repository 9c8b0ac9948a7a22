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

/**
 * `npm start` runs the emulator for as long as the service, so what it keeps is bounded and
 * expiring: a verification is forgotten FORGET_AFTER_MS after it ended (or, left open, after it
 * expired), swept on a start at most once per SWEEP_EVERY_MS of the clock (one pass over at most
 * MAX_KEPT entries, amortised over the starts in between; no timer keeps the process alive). A
 * forgotten one answers 404 and its reference may be used again. MAX_KEPT is the backstop for
 * starts faster than the grace (or a clock that stands still): beyond it the oldest go.
 */
const FORGET_AFTER_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;
const MAX_KEPT = 10_000;

interface Kept {
  verification: EmulatedVerification;
  /** Epoch ms from which a sweep may forget it. */
  forgetAt: number;
}

export interface StoreSizes {
  verifications: number;
  /** Numbers with a kept verification (the index `lastCodeFor` and aborts go through). */
  numbers: number;
  references: number;
}

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
  /** Insertion order is age order: the cap forgets from the front. */
  private readonly byId = new Map<string, Kept>();
  /** Kept ones per number, oldest first; the entry goes with its last verification. */
  private readonly byEndpoint = new Map<string, EmulatedVerification[]>();
  /** Unique while kept: a reused one is refused with 409. */
  private readonly byReference = new Map<string, EmulatedVerification>();
  private nextSweepAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: () => Date,
    private readonly generateCode: () => string,
    private readonly onEvent: (event: StoreEvent) => void,
  ) {}

  start(request: StartRequest): EmulatedVerification {
    const now = this.clock();
    this.sweep(now.getTime());
    if (request.reference !== undefined && this.findByReference(request.reference)) {
      throw new SinchApiFault(409, 40900, 'Reference already defined');
    }
    // Sinch: a new verification for a number aborts the one still pending for it. Only the
    // newest can be: each start aborted the one before.
    const older = this.byEndpoint.get(request.endpoint)?.at(-1);
    if (older && this.isOpen(older)) this.change(older, 'ABORTED', undefined);
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
    this.keep(verification);
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
    const verification = this.byId.get(id)?.verification;
    if (verification) this.expireIfDue(verification);
    return verification;
  }

  findByReference(reference: string): EmulatedVerification | undefined {
    const verification = this.byReference.get(reference);
    if (verification) this.expireIfDue(verification);
    return verification;
  }

  /** The newest for a number (and method, when given): what Sinch's identity routes act on. */
  findLatest(endpoint: string, method?: EmulatedMethod): EmulatedVerification | undefined {
    const kept = this.byEndpoint.get(endpoint) ?? [];
    const found = kept.findLast((v) => method === undefined || v.method === method);
    if (found) this.expireIfDue(found);
    return found;
  }

  all(): EmulatedVerification[] {
    const verifications = [...this.byId.values()].map((kept) => kept.verification);
    for (const verification of verifications) this.expireIfDue(verification);
    return verifications;
  }

  /** How much is kept, to check the bounds above. */
  get sizes(): StoreSizes {
    return { verifications: this.byId.size, numbers: this.byEndpoint.size, references: this.byReference.size };
  }

  /** PENDING, or FAIL after a wrong code: still completable with the right one. */
  isOpen(verification: EmulatedVerification): boolean {
    this.expireIfDue(verification);
    return completable(verification);
  }

  private expireIfDue(verification: EmulatedVerification): void {
    if (completable(verification) && this.clock().getTime() >= verification.expiresAt.getTime()) {
      this.change(verification, 'FAIL', 'Expired');
    }
  }

  private change(verification: EmulatedVerification, status: VerificationStatus, reason: string | undefined): void {
    verification.status = status;
    verification.reason = reason;
    const kept = this.byId.get(verification.id);
    if (kept && !completable(verification)) kept.forgetAt = this.clock().getTime() + FORGET_AFTER_MS;
    this.onEvent({ type: 'changed', verification });
  }

  private keep(verification: EmulatedVerification): void {
    this.byId.set(verification.id, { verification, forgetAt: verification.expiresAt.getTime() + FORGET_AFTER_MS });
    const forNumber = this.byEndpoint.get(verification.endpoint);
    if (forNumber) forNumber.push(verification);
    else this.byEndpoint.set(verification.endpoint, [verification]);
    if (verification.reference !== undefined) this.byReference.set(verification.reference, verification);
    while (this.byId.size > MAX_KEPT) {
      const oldest = this.byId.values().next().value;
      if (oldest === undefined) return;
      this.forget(oldest.verification);
    }
  }

  /**
   * Silent: one left open past its expiry is forgotten without the expiry event (and callback)
   * a lookup would have caused, as nobody asked about it.
   */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_EVERY_MS;
    for (const kept of this.byId.values()) {
      if (now >= kept.forgetAt) this.forget(kept.verification);
    }
  }

  private forget(verification: EmulatedVerification): void {
    this.byId.delete(verification.id);
    const forNumber = this.byEndpoint.get(verification.endpoint) ?? [];
    const at = forNumber.indexOf(verification);
    if (at >= 0) forNumber.splice(at, 1);
    if (forNumber.length === 0) this.byEndpoint.delete(verification.endpoint);
    if (verification.reference !== undefined && this.byReference.get(verification.reference) === verification) {
      this.byReference.delete(verification.reference);
    }
  }
}

function completable(verification: EmulatedVerification): boolean {
  return (
    verification.status === 'PENDING' ||
    (verification.status === 'FAIL' && (verification.reason === 'Invalid code' || verification.reason === 'Invalid CLI'))
  );
}
