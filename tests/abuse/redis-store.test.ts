import { createConnection } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { LOGIN } from '../support/operations';
import { startTestApp, type TestApp } from '../support/test-app';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Redis is optional: this runs where one answers (this project's machines and CI do). */
async function redisAnswers(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(500);
    const answer = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => answer(true));
    socket.once('error', () => answer(false));
    socket.once('timeout', () => answer(false));
  });
}

describe('counters in Redis (REDIS_URL)', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.stop();
  });

  it('are shared by two instances with separate databases', async (context) => {
    if (!(await redisAnswers())) context.skip();
    const env = { RATE_LIMIT_STORE: 'redis', REDIS_URL, RATE_LIMIT_LOGIN_PER_EMAIL: '3/900' };
    apps.push(await startTestApp(env), await startTestApp(env));
    const email = `redis.${Date.now()}.${Math.random()}@example.com`;
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(codeOf(await apps[i % 2].gql(LOGIN, { input: { email, password: 'guess' } })));
    expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
  });
});
