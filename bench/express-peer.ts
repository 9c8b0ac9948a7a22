/**
 * The Express peer: the same sign-in flow as a tutorial would write it in Express 5, as REST,
 * to compare the service against. Minimal but real work, nothing handicapped:
 *   POST /register    { email, password, phoneNumber } → bcrypt hash, insert the user → { pendingToken }
 *   POST /login       { email, password }              → the user by email, bcrypt compare → { pendingToken }
 *   POST /request-otp { pendingToken }                 → start an SMS verification at Sinch, keep its id → { channel }
 *   POST /verify-otp  { pendingToken, code }           → report the code to Sinch; when SUCCESSFUL: phone
 *                                                        verified, a session row, an access JWT → { accessToken }
 *   GET  /me          Authorization: Bearer            → the JWT, the user with a live-session check → { id, email }
 * bcryptjs (async API, on the main thread, as tutorials use it) at BCRYPT_COST; jose with an
 * Ed25519 key (the service's algorithm, so token work is alike); `pg` Pool (its own database,
 * tables created at start); Sinch through fetch with Basic authentication (what a tutorial uses;
 * the emulator accepts it as Sinch does). Sessions are rows so that `me` does the same revocable
 * session check as the service's; there is no refresh token, no rate limit, no audit trail and
 * no request log. Started by bench/run.ts as a child process (bench/lib/child.ts).
 *
 * Environment: DATABASE_URL, BCRYPT_COST, SINCH_BASE_URL, SINCH_APPLICATION_KEY, SINCH_APPLICATION_SECRET.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import express, { type NextFunction, type Request, type Response } from 'express';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { Pool } from 'pg';
import { announceReady, env, serveParent } from './lib/child';

const SCHEMA = `
  create table if not exists users (
    id uuid primary key default gen_random_uuid(),
    email text not null unique,
    phone_number text not null,
    password_hash text not null,
    phone_verified boolean not null default false,
    verification_id text,
    created_at timestamptz not null default now()
  );
  create table if not exists sessions (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    expires_at timestamptz not null
  );
  create index if not exists sessions_user_id on sessions (user_id);`;

async function main(): Promise<void> {
  const pool = new Pool({ connectionString: env('DATABASE_URL'), max: Number(process.env.PG_POOL_MAX || 10) });
  pool.on('error', () => {});
  await pool.query(SCHEMA);
  const cost = Number(env('BCRYPT_COST'));
  const sinchUrl = env('SINCH_BASE_URL');
  const sinchAuth = `Basic ${Buffer.from(`${env('SINCH_APPLICATION_KEY')}:${env('SINCH_APPLICATION_SECRET')}`).toString('base64')}`;
  const { privateKey, publicKey } = await generateKeyPair('EdDSA');
  const ISSUER = 'express-peer';

  const sign = (claims: Record<string, unknown>, audience: string, ttl: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(ttl)
      .sign(privateKey);
  const verify = async (token: unknown, audience: string) => {
    if (typeof token !== 'string') throw new HttpError(401, 'missing token');
    try {
      return (await jwtVerify(token, publicKey, { issuer: ISSUER, audience, algorithms: ['EdDSA'] })).payload;
    } catch {
      throw new HttpError(401, 'invalid token');
    }
  };
  const sinch = async (method: string, path: string, body: object) => {
    const res = await fetch(`${sinchUrl}/verification/v1/verifications${path}`, {
      method,
      headers: { authorization: sinchAuth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new HttpError(502, `Sinch answered ${res.status}`);
    return (await res.json()) as { id: string; status?: string };
  };

  const app = express();
  app.use(express.json());

  app.post('/register', async (req, res) => {
    const { email, password, phoneNumber } = req.body ?? {};
    if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new HttpError(400, 'invalid email');
    if (typeof password !== 'string' || password.length < 8) throw new HttpError(400, 'password too short');
    if (typeof phoneNumber !== 'string' || !/^\+[1-9]\d{7,14}$/.test(phoneNumber)) throw new HttpError(400, 'invalid phone number');
    const passwordHash = await bcrypt.hash(password, cost);
    try {
      const { rows } = await pool.query('insert into users (email, phone_number, password_hash) values ($1, $2, $3) returning id', [
        email.toLowerCase(),
        phoneNumber,
        passwordHash,
      ]);
      res.status(201).json({ pendingToken: await sign({ sub: rows[0].id }, 'pending', '10m') });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new HttpError(409, 'email already registered');
      throw error;
    }
  });

  app.post('/login', async (req, res) => {
    const { email, password } = req.body ?? {};
    if (typeof email !== 'string' || typeof password !== 'string') throw new HttpError(401, 'invalid credentials');
    const { rows } = await pool.query('select id, password_hash from users where email = $1', [email.toLowerCase()]);
    if (rows.length === 0 || !(await bcrypt.compare(password, rows[0].password_hash))) throw new HttpError(401, 'invalid credentials');
    res.json({ pendingToken: await sign({ sub: rows[0].id }, 'pending', '10m') });
  });

  app.post('/request-otp', async (req, res) => {
    const { sub } = await verify(req.body?.pendingToken, 'pending');
    const { rows } = await pool.query('select phone_number from users where id = $1', [sub]);
    if (rows.length === 0) throw new HttpError(401, 'unknown user');
    const started = await sinch('POST', '', { identity: { type: 'number', endpoint: rows[0].phone_number }, method: 'sms' });
    await pool.query('update users set verification_id = $1 where id = $2', [started.id, sub]);
    res.json({ channel: 'SMS' });
  });

  app.post('/verify-otp', async (req, res) => {
    const { pendingToken, code } = req.body ?? {};
    const { sub } = await verify(pendingToken, 'pending');
    if (typeof code !== 'string') throw new HttpError(400, 'code missing');
    const { rows } = await pool.query('select verification_id from users where id = $1', [sub]);
    if (!rows[0]?.verification_id) throw new HttpError(400, 'no code requested');
    const report = await sinch('PUT', `/id/${encodeURIComponent(rows[0].verification_id)}`, { method: 'sms', sms: { code } });
    if (report.status !== 'SUCCESSFUL') throw new HttpError(400, 'wrong code');
    await pool.query('update users set phone_verified = true, verification_id = null where id = $1', [sub]);
    const sessionId = randomUUID();
    await pool.query(`insert into sessions (id, user_id, expires_at) values ($1, $2, now() + interval '30 days')`, [sessionId, sub]);
    res.json({ accessToken: await sign({ sub, sid: sessionId }, 'access', '15m') });
  });

  app.get('/me', async (req, res) => {
    const header = req.headers.authorization;
    const { sub, sid } = await verify(header?.startsWith('Bearer ') ? header.slice(7) : undefined, 'access');
    const { rows } = await pool.query(
      'select u.id, u.email from users u where u.id = $1 and exists (select 1 from sessions s where s.id = $2 and s.user_id = u.id and s.expires_at > now())',
      [sub, sid],
    );
    if (rows.length === 0) throw new HttpError(401, 'session ended');
    res.json({ id: rows[0].id, email: rows[0].email });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError) res.status(error.status).json({ error: error.message });
    else res.status(500).json({ error: 'internal error' });
  });

  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  serveParent({
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  });
  announceReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
