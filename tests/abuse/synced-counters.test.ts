import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config';
import { LimiterStore } from '../../src/rate-limits/limiter-store';
import { codeOf } from '../support/graphql-client';
import { ME } from '../support/operations';
import { queryDatabase } from '../support/database';
import { admitted } from '../support/limiters';
import { useTestApp } from '../support/test-app';

/**
 * Per-address throttles and the pumping statistics are counted in process and synced to the
 * `rate_limit` table each second, all keys in one statement: here against PostgreSQL, with two
 * stores standing for two replicas on one database.
 */
describe('counters held in process and synced to PostgreSQL', () => {
  const t = useTestApp({ RATE_LIMIT_ME_PER_IP: '3/60' });

  function replica() {
    const knex = t.app.orm.em.getKnex();
    return new LimiterStore(loadConfig({}).rateLimits, { knex, logger: pino({ level: 'silent' }) });
  }

  it('adds every key of every synced limiter in one sync, in rate-limiter-flexible rows', async () => {
    const store = replica();
    const perIp = store.createSynced({ keyPrefix: 'syncTestA', points: 10, duration: 60 });
    const perRange = store.createSynced({ keyPrefix: 'syncTestB', points: 10, duration: 60 });
    await admitted(perIp, '203.0.113.7', 4);
    await admitted(perRange, 'range', 2);
    expect(await queryDatabase(t.databaseUrl, "select key from rate_limit where key like 'syncTest%'")).toEqual([]);
    await store.syncAll();
    const rows = await queryDatabase<{ key: string; points: number }>(
      t.databaseUrl,
      "select key, points from rate_limit where key like 'syncTest%' order by key",
    );
    expect(rows).toEqual([
      { key: 'syncTestA:203.0.113.7', points: 4 },
      { key: 'syncTestB:range', points: 2 },
    ]);
    // What rate-limiter-flexible's own limiter reads from the same rows.
    expect((await store.create({ keyPrefix: 'syncTestA', points: 10, duration: 60 }).get('203.0.113.7'))?.consumedPoints).toBe(4);
    await store.close();
  });

  it('lets two replicas learn each other’s counts at their syncs', async () => {
    const [one, two] = [replica(), replica()];
    const options = { keyPrefix: 'syncTestC', points: 5, duration: 60 };
    const [a, b] = [one.createSynced(options), two.createSynced(options)];
    expect(await admitted(a, 'ip', 3)).toBe(3);
    await one.syncAll();
    expect(await admitted(b, 'ip', 1)).toBe(1);
    await two.syncAll();
    // b now knows a's 3 and its own 1.
    expect(await admitted(b, 'ip', 5)).toBe(1);
    await two.syncAll();
    // a counts from its last sync (3) until it syncs points of its own: 2 more, then it knows 7.
    expect(await admitted(a, 'ip', 5)).toBe(2);
    await one.syncAll();
    expect((await admitted(a, 'ip', 1)) + (await admitted(b, 'ip', 1))).toBe(0);
    await Promise.all([one.close(), two.close()]);
  });

  it('refuses `me` beyond its per-address limit in one process at once, before any sync', async () => {
    const { accessToken } = await t.signUp();
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push(codeOf(await t.gql(ME, {}, { authorization: `Bearer ${accessToken}` })) ?? 'OK');
    expect(codes).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});
