import { createHash, randomInt } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../errors/app-error';
import { RecoveryCode } from './recovery-code.entity';

/** Crockford's base32: no I, L, O, U, so nothing reads as another character. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 4;
const GROUP_LENGTH = 4;
/** 16 characters of 5 bits: 80 bits per code, far past any offline search of the stored hashes. */
const CODE_LENGTH = GROUPS * GROUP_LENGTH;
export const CODES_PER_SET = 10;

/** `7K3M-Q9XD-2HFN-8WTB`: four groups of four, easy to read aloud and to type. */
export function newRecoveryCode(): string {
  const chars = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return Array.from({ length: GROUPS }, (_, g) => chars.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH).join('')).join('-');
}

/**
 * What a person types: any case, spaces or dashes anywhere, O for 0 and I or L for 1.
 * Anything else is refused without spending an attempt: it cannot be one of ours.
 */
export function normalizeRecoveryCode(raw: string): string {
  const code = raw.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (code.length !== CODE_LENGTH || [...code].some((c) => !ALPHABET.includes(c))) {
    throw badInput('recoveryCode', 'Enter one of your recovery codes: 16 letters and digits, like 7K3M-Q9XD-2HFN-8WTB.');
  }
  return code;
}

/** Codes are random (80 bits), so a fast hash suffices; the user id keeps equal codes of two users apart. */
function hashOf(userId: string, normalizedCode: string): string {
  return createHash('sha256').update(`${userId}:${normalizedCode}`).digest('base64url');
}

/** A user's set of recovery codes: stored as hashes, each usable once. */
export class RecoveryCodes {
  constructor(private readonly em: EntityManager) {}

  /** A new set, replacing the old one (its codes stop working). The codes are shown once: only hashes are kept. */
  async regenerate(userId: string, now: Date): Promise<string[]> {
    const { em } = this;
    const codes = Array.from({ length: CODES_PER_SET }, newRecoveryCode);
    await em.nativeDelete(RecoveryCode, { user: userId });
    for (const code of codes) {
      em.create(RecoveryCode, { user: userId, codeHash: hashOf(userId, normalizeRecoveryCode(code)), createdAt: now, usedAt: null });
    }
    await em.flush();
    return codes;
  }

  /** Spends the code if it is one of the user's unused ones: one conditional update, so a code works once even when raced. */
  async use(userId: string, normalizedCode: string, now: Date): Promise<boolean> {
    const used = await this.em.nativeUpdate(RecoveryCode, { user: userId, codeHash: hashOf(userId, normalizedCode), usedAt: null }, { usedAt: now });
    return used === 1;
  }

  remaining(userId: string): Promise<number> {
    return this.em.count(RecoveryCode, { user: userId, usedAt: null });
  }
}
