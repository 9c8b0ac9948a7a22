import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger';
import { SinchEmulator } from '../../src/sinch/emulator/server';
import { createScratchDatabase } from '../support/database';
import { codeOf, type GraphQLResponse, graphqlClient } from '../support/graphql-client';
import { LOGIN, REGISTER, REQUEST_OTP } from '../support/operations';
import { ServiceProcess } from '../support/service-process';
import { newUser, UNLIMITED } from '../support/test-app';
import { until } from '../support/until';

/**
 * Two instances on one database, restarted one after the other as an orchestrator does it:
 * SIGTERM, the load balancer sees /readyz fail and takes the instance out, the instance finishes
 * what it had, exits 0, and a new one takes its place.
 *
 * The drain's grace is set far longer than the test: a second SIGTERM ends it when the test has
 * seen what it wanted to see, so nothing here races a real timer.
 */
describe('a rolling restart of two instances', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  let env: Record<string, string>;
  let emulator: SinchEmulator;

  beforeAll(async () => {
    const database = await createScratchDatabase();
    cleanup.push(database.drop);
    const credentials = { applicationKey: randomUUID(), applicationSecret: randomBytes(16).toString('base64') };
    // In this process, so the test can hold and release Sinch's answers.
    emulator = new SinchEmulator({ ...credentials, logger: createLogger({ level: 'silent' }) });
    const sinchBaseUrl = await emulator.start();
    cleanup.push(() => emulator.stop());
    env = {
      ...UNLIMITED,
      DATABASE_URL: database.url,
      PORT: '0',
      HOST: '127.0.0.1',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'info',
      SINCH_BASE_URL: sinchBaseUrl,
      SINCH_APPLICATION_KEY: credentials.applicationKey,
      SINCH_APPLICATION_SECRET: credentials.applicationSecret,
      // A held answer must outlast the test, not time out inside it.
      SINCH_TIMEOUT_MS: '60000',
      // One key for both, as in production: a pending token from one is good at the other.
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      SHUTDOWN_DRAIN_SECONDS: '600',
    };
  });

  afterAll(async () => {
    emulator?.releaseHeld(true);
    for (const step of cleanup.reverse()) await step();
  });

  async function start(): Promise<Instance> {
    const service = new ServiceProcess(env);
    cleanup.push(() => service.kill('SIGKILL'));
    // Generous: a start on two busy shared cores has taken over 30 s.
    const url = await service.ready(120_000);
    return { service, url, origin: new URL(url).origin };
  }

  /** SIGTERM, and once it drains a second one to end the grace: the exit code. */
  async function stop({ service }: Instance): Promise<number | null> {
    service.child.kill('SIGTERM');
    await service.waitFor(/draining: \/readyz answers 503/, 120_000);
    return service.kill('SIGTERM');
  }

  it('lets the request in flight finish while /readyz says draining and the other instance takes the load', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const gqlA = graphqlClient(a.url);
    const gqlB = graphqlClient(b.url);
    const pendingToken = (await gqlB(REGISTER, { input: newUser() })).data!.register.pendingToken;

    // A request in flight at A: its Sinch answer is held until the test lets it go.
    emulator.injectFault({ on: 'start', kind: 'hold' });
    let answered = false;
    const inFlight = gqlA(REQUEST_OTP, { input: { pendingToken } }).finally(() => (answered = true));
    await until(() => emulator.heldCount === 1, 'the Sinch start to be held');

    // A keep-alive connection to A, idle when the SIGTERM arrives.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(agent, `${a.origin}/healthz`)).status).toBe(200);

    a.service.child.kill('SIGTERM');
    await until(async () => (await get(undefined, `${a.origin}/readyz`)).body.status === 'draining', 'A to drain');
    // A request on the existing connection is answered, and told to close the connection.
    const onKeptConnection = await get(agent, `${a.origin}/readyz`);
    expect(onKeptConnection).toMatchObject({ status: 503, body: { status: 'draining' }, reused: true, connection: 'close' });
    agent.destroy();
    // Meanwhile B serves as before.
    expect((await get(undefined, `${b.origin}/readyz`)).status).toBe(200);
    expect(codeOf(await gqlB(REGISTER, { input: newUser() }))).toBeUndefined();

    // The grace ends (the second SIGTERM): the listener closes, the held request keeps A running.
    a.service.child.kill('SIGTERM');
    await until(async () => (await get(undefined, `${a.origin}/readyz`).catch((error: Error) => error)) instanceof Error, 'A to stop listening');
    expect(a.service.child.exitCode).toBeNull();
    expect(answered).toBe(false);

    emulator.releaseHeld();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.errors).toBeUndefined();
    expect(response.data?.requestOtp.channel).toBe('SMS');
    expect(await a.service.exit()).toBe(0);
    expect(a.service.lines.join('\n')).toMatch(/listener closed: waiting for requests in flight/);
    expect(codeOf(await gqlB(LOGIN, { input: { email: 'nobody@example.com', password: 'wrong password' } }))).toBe('INVALID_CREDENTIALS');
    expect(await stop(b)).toBe(0);
  }, 300_000);

  it('loses no request of a client load while A, then B, are restarted', async () => {
    const balancer = new Balancer();
    let [a, b] = await Promise.all([start(), start()]);
    balancer.add(a.origin);
    balancer.add(b.origin);
    const load = new Load(balancer);
    const running = load.run(2);

    for (const which of ['A', 'B'] as const) {
      const leaving = which === 'A' ? a : b;
      await until(() => balancer.served(leaving.origin) >= 5, `${which} to serve some of the load`);
      leaving.service.child.kill('SIGTERM');
      // The balancer's health check takes it out of rotation, then waits for what it sent there.
      await until(() => balancer.checkHealth().then(() => !balancer.inRotation(leaving.origin)), `${which} to leave the rotation`);
      await balancer.settled(leaving.origin);
      leaving.service.child.kill('SIGTERM');
      expect(await leaving.service.exit()).toBe(0);

      const replacement = await start();
      balancer.add(replacement.origin);
      if (which === 'A') a = replacement;
      else b = replacement;
      await until(() => balancer.served(replacement.origin) >= 5, `the new ${which} to serve some of the load`);
    }
    const totals = await load.stop(running);
    expect(totals.failures).toEqual([]);
    expect(totals.ok).toBeGreaterThan(20);
    expect(await Promise.all([stop(a), stop(b)])).toEqual([0, 0]);
  }, 600_000);
});

interface Instance {
  service: ServiceProcess;
  url: string;
  origin: string;
}

/**
 * A load balancer as the test's client uses it: round robin over the instances in rotation. Its
 * health check takes an instance whose /readyz is not 200 out of rotation; `settled` waits for the
 * requests already sent there (as a balancer's deregistration delay does).
 */
class Balancer {
  private readonly rotation: string[] = [];
  private readonly pending = new Map<string, Set<Promise<unknown>>>();
  private readonly answered = new Map<string, number>();
  private next = 0;

  add(origin: string): void {
    this.rotation.push(origin);
    this.pending.set(origin, new Set());
  }

  inRotation(origin: string): boolean {
    return this.rotation.includes(origin);
  }

  served(origin: string): number {
    return this.answered.get(origin) ?? 0;
  }

  async checkHealth(): Promise<void> {
    for (const origin of [...this.rotation]) {
      const ready = await get(undefined, `${origin}/readyz`).then(
        (res) => res.status === 200,
        () => false,
      );
      if (!ready) this.rotation.splice(this.rotation.indexOf(origin), 1);
    }
  }

  async settled(origin: string): Promise<void> {
    await Promise.allSettled([...(this.pending.get(origin) ?? [])]);
  }

  async send(query: string, variables: Record<string, unknown>): Promise<GraphQLResponse> {
    if (this.rotation.length === 0) throw new Error('no instance in rotation');
    const origin = this.rotation[this.next++ % this.rotation.length];
    const request = graphqlClient(`${origin}/graphql`)(query, variables);
    const pending = this.pending.get(origin)!;
    pending.add(request);
    try {
      const response = await request;
      this.answered.set(origin, this.served(origin) + 1);
      return response;
    } finally {
      pending.delete(request);
    }
  }
}

const PACE_MS = 40;

/** Clients signing up and mistyping passwords, one request after the other each, until stopped. */
class Load {
  private stopping = false;
  private readonly failures: string[] = [];
  private ok = 0;

  constructor(private readonly balancer: Balancer) {}

  run(clients: number): Promise<unknown> {
    return Promise.all(Array.from({ length: clients }, () => this.client()));
  }

  async stop(running: Promise<unknown>): Promise<{ ok: number; failures: string[] }> {
    this.stopping = true;
    await running;
    return { ok: this.ok, failures: this.failures };
  }

  private async client(): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      const user = newUser();
      const [query, expected] = i % 2 === 0 ? [REGISTER, undefined] : [LOGIN, 'INVALID_CREDENTIALS'];
      const variables = { input: i % 2 === 0 ? user : { email: user.email, password: 'wrong password' } };
      try {
        const response = await this.balancer.send(query, variables);
        if (response.status !== 200 && !expected) this.failures.push(`HTTP ${response.status}`);
        else if (codeOf(response) !== expected) this.failures.push(`${codeOf(response)}: ${response.errors?.[0]?.message}`);
        else this.ok++;
      } catch (error) {
        this.failures.push(String((error as Error).cause ?? error));
      }
      // A steady load, not a flood: on two cores a flood starves the replacement starting up.
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
  }
}

/** A GET on its own connection, or on the agent's (keep-alive) one. */
function get(agent: http.Agent | undefined, url: string): Promise<{ status: number; body: any; reused: boolean; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), reused: req.reusedSocket, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
