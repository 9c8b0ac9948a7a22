/**
 * The floor for `me`: a bare node:http server doing only what `me` must do, with nothing else
 * (no framework, no GraphQL, no ORM, no log line, no rate-limit counter). Per request: read the
 * body, verify the bearer access token with jose against the service's own public key (taken from
 * its /.well-known/jwks.json, with the same checks: algorithm, issuer, audience, `typ`, expiry),
 * one PostgreSQL read through a `pg` Pool (the user by id, with the same live-session probe as
 * findUserOfLiveSession in src/sessions/session.repository.ts), answer the JSON GraphQL would.
 * Any other request gets 404. Started by bench/run.ts as a child process (bench/lib/child.ts).
 *
 * Environment: DATABASE_URL (the service's database), SERVICE_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE,
 * PG_POOL_MAX (the service's pool size, so both have as many connections).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Pool } from 'pg';
import { announceReady, env, serveParent } from './lib/child';

const ME = `select u.id, u.email from app_user u
  where u.id = $1 and exists (select 1 from auth_session s where s.id = $2 and s.user_id = u.id and s.expires_at > $3 and s.idle_expires_at > $3)`;

async function main(): Promise<void> {
  const jwks = createLocalJWKSet((await (await fetch(env('SERVICE_JWKS_URL'))).json()) as { keys: [] });
  const verifyOptions = { algorithms: ['EdDSA', 'ES256'], issuer: env('JWT_ISSUER'), audience: env('JWT_AUDIENCE'), typ: 'at+jwt' };
  const pool = new Pool({ connectionString: env('DATABASE_URL'), max: Number(process.env.PG_POOL_MAX || 10) });
  pool.on('error', () => {}); // an idle connection dropped: the pool replaces it

  const unauthenticated = (res: ServerResponse) =>
    send(res, 200, { errors: [{ message: 'Not signed in.', extensions: { code: 'UNAUTHENTICATED' } }], data: null });

  async function me(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The query itself is not interpreted: the floor answers `me` whatever it is asked.
    JSON.parse(await readBody(req));
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return unauthenticated(res);
    let sub: string;
    let sid: string;
    try {
      const { payload } = await jwtVerify(header.slice(7), jwks, verifyOptions);
      sub = String(payload.sub);
      sid = String(payload.sid);
    } catch {
      return unauthenticated(res);
    }
    const { rows } = await pool.query(ME, [sub, sid, new Date()]);
    if (rows.length === 0) return unauthenticated(res);
    send(res, 200, { data: { me: { id: rows[0].id, email: rows[0].email } } });
  }

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/graphql') return send(res, 404, { error: 'not found' });
    me(req, res).catch(() => send(res, 500, { errors: [{ message: 'Internal server error' }] }));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serveParent({
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  });
  announceReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
