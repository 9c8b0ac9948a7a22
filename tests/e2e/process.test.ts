import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/db/embedded-postgres';
import { graphqlClient } from '../support/graphql-client';
import { LOGIN, ME, REGISTER, REQUEST_OTP, VERIFY_OTP } from '../support/operations';
import { ServiceProcess } from '../support/service-process';

/**
 * `npm start` as a new user meets it: embedded PostgreSQL, the emulator, codes read from the log,
 * data kept across restarts, recovery after kill -9, and a clean stop on SIGTERM.
 */
describe('the service as a process', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  async function start(dataDir: string): Promise<{ service: ServiceProcess; url: string }> {
    const service = new ServiceProcess({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', BCRYPT_COST: '4', LOG_LEVEL: 'info' });
    cleanup.push(() => service.kill('SIGKILL'));
    return { service, url: await service.ready() };
  }

  it('runs the flow with the code from the log, survives kill -9, keeps its data, stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-e2e-'));
    await chmod(dataDir, 0o755);
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const user = { email: 'grace@example.com', password: 'a long secret phrase', phoneNumber: '+44 7400 555123' };

    const first = await start(dataDir);
    let gql = graphqlClient(first.url);
    const pendingToken = (await gql(REGISTER, { input: user })).data!.register.pendingToken;
    expect((await gql(REQUEST_OTP, { input: { pendingToken } })).errors).toBeUndefined();
    const code = (await first.service.waitFor(/Sinch emulator: SMS code (\d+) for \+44 \*+23/))[1];
    const verified = await gql(VERIFY_OTP, { input: { pendingToken, code } });
    const accessToken = verified.data!.verifyOtp.accessToken;

    // Nothing secret in the log: only the emulator's line carries the code.
    const log = first.service.lines.join('\n');
    for (const secret of [user.password, pendingToken, accessToken, '+447400555123', '7400555123']) {
      expect(log).not.toContain(secret);
    }
    expect(first.service.lines.filter((l) => l.includes(code))).toHaveLength(1);

    const postgresPid = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    await first.service.kill('SIGKILL');
    expect(isAlive(postgresPid)).toBe(true); // orphaned, as after a real crash

    const second = await start(dataDir);
    await second.service.waitFor(/left behind by a previous run/);
    gql = graphqlClient(second.url);
    expect((await gql(LOGIN, { input: { email: user.email, password: user.password } })).data?.login).toBeTruthy();
    // The development key was kept too: the token from before the crash still works.
    expect((await gql(ME, {}, { authorization: `Bearer ${accessToken}` })).data?.me.email).toBe(user.email);

    const newPostgresPid = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(await second.service.kill('SIGTERM')).toBe(0);
    expect(isAlive(newPostgresPid)).toBe(false);
  });

  // Regression: a SIGTERM during start-up killed the service and orphaned its PostgreSQL.
  it('stops everything when SIGTERM arrives during start-up', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sinch-2fa-e2e-'));
    await chmod(dataDir, 0o755);
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const service = new ServiceProcess({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', BCRYPT_COST: '4' });
    cleanup.push(() => service.kill('SIGKILL'));
    await service.waitFor(/embedded PostgreSQL started/);
    const postgresPid = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(await service.kill('SIGTERM')).toBe(0);
    expect(isAlive(postgresPid)).toBe(false);
  });

  it('refuses to start in production without its required settings, one line each', async () => {
    const service = new ServiceProcess({ NODE_ENV: 'production', DATABASE_URL: '' });
    expect(await service.exit()).toBe(1);
    expect(service.lines.filter(Boolean)).toEqual([
      expect.stringMatching(/^Configuration error: DATABASE_URL /),
      expect.stringMatching(/^Configuration error: SINCH_APPLICATION_KEY /),
      expect.stringMatching(/^Configuration error: JWT_PRIVATE_KEY /),
    ]);
  });
});
