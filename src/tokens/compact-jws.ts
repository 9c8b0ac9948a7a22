import { sign, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from './signing-key';

/**
 * A JWS in compact serialization (RFC 7515 §7.1), signed with node:crypto in the calling thread.
 * jose (which verifies every token here) signs only through WebCrypto, whose `subtle.sign` runs
 * as a job on libuv's thread pool and answers a turn of the event loop later: a login's token
 * then costs a hand-off to another thread and back, beside its 0.1–0.2 ms of signing. Only
 * signing is done here, with a header and claims this service writes itself; reading tokens
 * (alg, kid, typ, claims, times) stays with jose's jwtVerify.
 */
export function signCompact(alg: KeyAlgorithm, privateKey: KeyObject, header: { kid: string; typ: string }, claims: object): string {
  const input = `${base64url({ alg, kid: header.kid, typ: header.typ })}.${base64url(claims)}`;
  const signature =
    alg === 'EdDSA'
      ? sign(null, Buffer.from(input), privateKey)
      : // RFC 7518 §3.4: ES256's signature is R ‖ S (64 bytes), not DER.
        sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
