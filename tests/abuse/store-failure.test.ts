import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/graphql-client';
import { LOGIN } from '../support/operations';
import { useTestApp } from '../support/test-app';

/**
 * The counters' store failing must neither open the door nor answer 500: limits fall back to
 * this process's memory, and the operator is told once.
 */
describe('a rate-limit store failure', () => {
  const t = useTestApp({ RATE_LIMIT_LOGIN_PER_EMAIL: '2/900' });

  it('keeps limiting in memory and logs one warning', async () => {
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    await client.query('drop table rate_limit');
    await client.end();

    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.gql(LOGIN, { input: { email: 'target@example.com', password: 'guess' } });
      expect(res.status).toBe(200);
      answers.push(codeOf(res));
    }
    expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(t.logs.filter((line) => line.includes('rate-limit store unavailable'))).toHaveLength(1);
    // A whole sign-in still goes through: requestOtp's reservation reads the wrong-code budget's
    // row in the same call, and does without it when the table is gone; its statement that also
    // counts the caps per number fails, and the reservation runs alone, the caps counted in memory.
    const { accessToken } = await t.signUp();
    expect(accessToken).toBeTruthy();
    expect(t.logs.filter((line) => line.includes('reserving a send with its caps counted failed'))).toHaveLength(1);
  });
});
