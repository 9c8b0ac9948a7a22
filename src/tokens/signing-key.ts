import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export interface SigningKey {
  alg: 'EdDSA' | 'ES256';
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

/** Parses a PKCS8 PEM (literal `\n` escapes allowed) or a private JWK; Ed25519 and P-256 only. */
export function parsePrivateKey(material: string): { privateKey: KeyObject; alg: SigningKey['alg'] } {
  const trimmed = material.trim();
  let privateKey: KeyObject;
  try {
    privateKey = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed), format: 'jwk' })
      : createPrivateKey({ key: trimmed.replace(/\\n/g, '\n'), format: 'pem' });
  } catch {
    throw new Error('is not a PKCS8 PEM private key nor a private JWK');
  }
  return { privateKey, alg: algorithmOf(privateKey) };
}

export async function importSigningKey(material: string): Promise<SigningKey> {
  const { privateKey, alg } = parsePrivateKey(material);
  const publicKey = createPublicKey(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { alg, kid, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

/**
 * Development only: an Ed25519 key made on first start and kept under the data folder, so a
 * restart does not log everyone out.
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, 'jwt-private-key.pem');
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing) return importSigningKey(existing);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
    // Two first starts at once: keep whichever key was written first.
    if (error.code !== 'EEXIST') throw error;
  });
  await chmod(file, 0o600);
  return importSigningKey(await readFile(file, 'utf8'));
}

export function generateEphemeralKey(): Promise<SigningKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return importSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

function algorithmOf(key: KeyObject): SigningKey['alg'] {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error('must be an Ed25519 or a P-256 (ES256) private key');
}
