import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { queryIn, transactionOf } from '../../src/db/prepared';
import { inTransaction } from '../../src/db/transaction';
import { queryDatabase } from '../support/database';
import { LOGIN } from '../support/operations';
import { loginPending, useTestApp } from '../support/test-app';

const PROBE = 'statement_transaction_probe';
const SET = { name: 'stx_probe_set', text: `update ${PROBE} set value = $2 where id = $1 returning id` };

describe('inTransaction with named statements', () => {
  const t = useTestApp();
  const values = async () =>
    Object.fromEntries(
      (await queryDatabase<{ id: string; value: number }>(t.databaseUrl, `select id, value from ${PROBE}`)).map((r) => [r.id, r.value]),
    );

  beforeAll(async () => {
    await queryDatabase(t.databaseUrl, `create table ${PROBE} (id text primary key, value int not null)`);
  });
  afterAll(async () => {
    await queryDatabase(t.databaseUrl, `drop table ${PROBE}`);
  });

  it('commits what its statements did, and rolls all of it back when the work throws', async () => {
    await queryDatabase(t.databaseUrl, `delete from ${PROBE}; insert into ${PROBE} values ('a', 0), ('b', 0)`);
    const em = t.app.orm.em.fork();
    await inTransaction(em, async (tx) => {
      await queryIn(tx, SET, ['a', 1]);
      await queryIn(tx, SET, ['b', 1]);
    });
    expect(await values()).toEqual({ a: 1, b: 1 });

    await expect(
      inTransaction(em, async (tx) => {
        await queryIn(tx, SET, ['a', 2]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await values()).toEqual({ a: 1, b: 1 });
    // Outside, statements run on the pool again.
    expect(em.getTransactionContext()).toBeUndefined();
    await queryIn(em, SET, ['b', 3]);
    expect(await values()).toEqual({ a: 1, b: 3 });
  });

  it('runs a deadlock victim again: two transactions locking two rows in opposite orders both end committed', async () => {
    await queryDatabase(t.databaseUrl, `delete from ${PROBE}; insert into ${PROBE} values ('a', 0), ('b', 0)`);
    const attempts = { first: 0, second: 0 };
    // Each first attempt waits until both hold their first row, so the second rows deadlock.
    let holding = 0;
    let release!: () => void;
    const bothHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const crossing = (name: 'first' | 'second', [one, two]: [string, string]) => {
      const em = t.app.orm.em.fork();
      return inTransaction(em, async (tx) => {
        attempts[name] += 1;
        await queryIn(tx, SET, [one, attempts[name]]);
        if (attempts[name] === 1) {
          holding += 1;
          if (holding === 2) release();
          await bothHold;
        }
        await queryIn(tx, SET, [two, attempts[name]]);
      });
    };
    await Promise.all([crossing('first', ['a', 'b']), crossing('second', ['b', 'a'])]);
    expect(attempts.first + attempts.second).toBe(3);
    // The victim went again after the other committed: both rows carry its second attempt.
    const victim = attempts.first === 2 ? 'first' : 'second';
    expect(await values()).toEqual({ a: attempts[victim], b: attempts[victim] });
  });

  it("finds a statement's transaction without forking the request's unit of work: a login forks nothing", async () => {
    const em = t.app.orm.em;
    expect(transactionOf(em)).toBeUndefined();
    await inTransaction(em.fork(), async (tx) => {
      // The repositories' root EntityManager finds the transaction as the fork it runs in does.
      expect(transactionOf(em)).toBe(tx.getTransactionContext());
      expect(transactionOf(tx)).toBeDefined();
    });
    expect(transactionOf(em)).toBeUndefined();

    const { user } = await t.signUp();
    const forks = vi.spyOn(em, 'fork');
    try {
      // (Its requestOtp's send would not either, but the emulator's callback is a request of its own that does.)
      expect(await loginPending(t.gql, user)).toBeTruthy();
      expect(forks).not.toHaveBeenCalled();
      // A wrong password neither.
      const refused = await t.gql(LOGIN, { input: { email: user.email, password: 'not the password' } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
      expect(forks).not.toHaveBeenCalled();
    } finally {
      forks.mockRestore();
    }
  });
});
