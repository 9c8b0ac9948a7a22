import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { readOrCreateFile } from '../files/create-once';

export type KeyAlgorithm = 'EdDSA' | 'ES256';

/** A key that verifies our tokens, as published in the JWKS. */
export interface VerificationKey {
  alg: KeyAlgorithm;
  kid: string;
  publicKey: KeyObject;
  publicJwk: JWK;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

/** Parses a PKCS8 PEM (literal `\n` escapes allowed) or a private JWK; Ed25519 and P-256 only. */
export function parsePrivateKey(material: string): { privateKey: KeyObject; alg: KeyAlgorithm; ownKid?: string } {
  const trimmed = material.trim();
  let privateKey: KeyObject;
  let jwk: Record<string, unknown> | undefined;
  try {
    if (trimmed.startsWith('{')) {
      jwk = JSON.parse(trimmed);
      privateKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } else {
      privateKey = createPrivateKey({ key: unescapeNewlines(trimmed), format: 'pem' });
    }
  } catch {
    throw new Error('is not a PKCS8 PEM private key nor a private JWK');
  }
  return { privateKey, alg: algorithmOf(privateKey), ownKid: ownKidOf(jwk) };
}

/**
 * `JWT_VERIFICATION_KEYS`: a JSON array of JWKs, or PEM blocks one after another; public or
 * private (only the public part is kept). Ed25519 and P-256 only, like the signing key.
 */
export function parseVerificationKeys(material: string): Array<{ publicKey: KeyObject; alg: KeyAlgorithm; ownKid?: string }> {
  const trimmed = unescapeNewlines(material.trim());
  if (trimmed.startsWith('[')) {
    let jwks: unknown;
    try {
      jwks = JSON.parse(trimmed);
    } catch {
      throw new Error('is not valid JSON (expected an array of JWKs)');
    }
    if (!Array.isArray(jwks) || jwks.length === 0) throw new Error('must be a non-empty JSON array of JWKs');
    return jwks.map((jwk, index) => {
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      } catch {
        throw new Error(`has an entry that is not a usable JWK (number ${index + 1})`);
      }
      return { publicKey, alg: algorithmOf(publicKey), ownKid: ownKidOf(jwk) };
    });
  }
  const blocks = trimmed.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0 || trimmed.replace(PEM_BLOCK, '').trim() !== '') {
    throw new Error('must be a JSON array of JWKs or PEM blocks one after another');
  }
  return blocks.map((pem, index) => {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: pem, format: 'pem' });
    } catch {
      throw new Error(`has a PEM block that is not a key (number ${index + 1})`);
    }
    return { publicKey, alg: algorithmOf(publicKey) };
  });
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

export async function importSigningKey(material: string): Promise<SigningKey> {
  const { privateKey, alg, ownKid } = parsePrivateKey(material);
  return { ...(await describePublicKey(createPublicKey(privateKey), alg, ownKid)), privateKey };
}

export function importVerificationKeys(material: string): Promise<VerificationKey[]> {
  return Promise.all(parseVerificationKeys(material).map(({ publicKey, alg, ownKid }) => describePublicKey(publicKey, alg, ownKid)));
}

/** The `kid` is the JWK's own when it had one, else its RFC 7638 thumbprint. */
async function describePublicKey(publicKey: KeyObject, alg: KeyAlgorithm, ownKid: string | undefined): Promise<VerificationKey> {
  const publicJwk = await exportJWK(publicKey);
  const kid = ownKid ?? (await calculateJwkThumbprint(publicJwk));
  return { alg, kid, publicKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

function ownKidOf(jwk: unknown): string | undefined {
  const kid = (jwk as { kid?: unknown } | undefined)?.kid;
  return typeof kid === 'string' && kid.length > 0 ? kid : undefined;
}

function unescapeNewlines(text: string): string {
  return text.replace(/\\n/g, '\n');
}

/**
 * Development only: an Ed25519 key made on first start and kept under the data folder, so a
 * restart does not log everyone out.
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, 'jwt-private-key.pem');
  await mkdir(dataDir, { recursive: true });
  // Replicas sharing a data folder (DATABASE_URL set, no JWT_PRIVATE_KEY) start together: one key for all.
  const pem = await readOrCreateFile(file, () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await chmod(file, 0o600);
  return importSigningKey(pem);
}

export function generateEphemeralKey(): Promise<SigningKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return importSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

function algorithmOf(key: KeyObject): KeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error('must be an Ed25519 or a P-256 (ES256) key');
}
