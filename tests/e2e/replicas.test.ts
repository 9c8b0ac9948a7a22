import { afterAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../support/database';
import { codeOf, graphqlClient } from '../support/graphql-client';
import { LOGIN } from '../support/operations';
import { ServiceProcess } from '../support/service-process';

/** Two replicas of the service on one database share one budget: limits do not multiply. */
describe('two server processes on one database', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('count one rate-limit budget between them', async () => {
    const database = await createScratchDatabase();
    cleanup.push(database.drop);
    const env = { DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', BCRYPT_COST: '4', RATE_LIMIT_LOGIN_PER_EMAIL: '4/900' };
    const replicas: ServiceProcess[] = [];
    const clients = [];
    // One after the other: the first applies the migrations.
    for (let i = 0; i < 2; i++) {
      const replica = new ServiceProcess(env);
      replicas.push(replica);
      cleanup.push(() => replica.kill('SIGTERM'));
      clients.push(graphqlClient(await replica.ready()));
    }
    const answers = [];
    for (let i = 0; i < 6; i++) {
      const res = await clients[i % 2](LOGIN, { input: { email: 'shared@example.com', password: 'wrong password' } });
      answers.push(codeOf(res));
    }
    expect(answers).toEqual([...Array(4).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});
