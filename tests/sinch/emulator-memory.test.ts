import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackSender } from '../../src/sinch/emulator/callbacks';
import { type EmulatedVerification, type StoreEvent, type StoreSizes, VerificationStore } from '../../src/sinch/emulator/store';
import { APP_KEY, APP_SECRET, captureLogger, manualClock } from './support';

// Issue 11: `npm start` runs the emulator as long as the service, so what it keeps must stay
// bounded and expire. Driven through the store's in-memory API (HTTP would take minutes for 20k).

const TTL = 300;
/** store.ts: FORGET_AFTER_MS and SWEEP_EVERY_MS, in seconds. */
const GRACE = 600;
const SWEEP = 60;
const MAX_KEPT = 10_000;

const numberOf = (i: number) => `+4477009${String(i).padStart(5, '0')}`;

function newStore() {
  const clock = manualClock();
  const events: StoreEvent[] = [];
  let codes = 0;
  const store = new VerificationStore(
    clock.now,
    () => String(++codes % 1_000_000).padStart(6, '0'),
    (event) => events.push(event),
  );
  /** Sign-in `i`: reference `ref-i`, number `i` unless one is given. */
  const start = (i: number, { ttlSeconds = TTL, number = i } = {}) =>
    store.start({ method: 'sms', endpoint: numberOf(number), reference: `ref-${i}`, codeType: 'Numeric', ttlSeconds });
  return { clock, events, store, start };
}

/**
 * `count` sign-ins, one a second, over `numbers` numbers (fewer than TTL: a number's next start
 * aborts its pending one): half report the right code, half are left open. Returns the largest sizes seen.
 */
function drive({ clock, store, start }: ReturnType<typeof newStore>, count: number, numbers: number): StoreSizes {
  const largest: StoreSizes = { verifications: 0, numbers: 0, references: 0 };
  for (let i = 0; i < count; i++) {
    clock.advance(1);
    const verification = start(i, { number: i % numbers });
    if (i % 2 === 0) store.report(verification, 'sms', verification.secret);
    const sizes = store.sizes;
    for (const key of Object.keys(largest) as Array<keyof StoreSizes>) largest[key] = Math.max(largest[key], sizes[key]);
  }
  return largest;
}

describe('the emulator keeps bounded, expiring verifications', () => {
  it('20k sign-ins a second apart: only those of the last ttl + grace + sweep are kept, in every index', () => {
    const largest = drive(newStore(), 20_000, 5000);
    // Today's bug: 10 000 kept (the cap was the only bound), however old.
    const bound = TTL + GRACE + SWEEP + 1;
    expect(largest.verifications).toBeLessThanOrEqual(bound);
    expect(largest.numbers).toBeLessThanOrEqual(bound);
    expect(largest.references).toBeLessThanOrEqual(bound);
  });

  it('a verification that ended is forgotten once its grace has passed (id, number and reference), not before', () => {
    const run = newStore();
    const { clock, store, start } = run;
    const ended = start(1);
    clock.advance(10);
    store.report(ended, 'sms', ended.secret);

    clock.advance(GRACE - 1);
    start(2);
    expect(store.get(ended.id)?.status).toBe('SUCCESSFUL');

    clock.advance(SWEEP + 1);
    start(3);
    expect(store.get(ended.id)).toBeUndefined();
    expect(store.findLatest(numberOf(1))).toBeUndefined();
    expect(store.findByReference('ref-1')).toBeUndefined();
    // Its reference may be used again (409 while it was kept).
    expect(start(1).reference).toBe('ref-1');
  });

  it('one left open is forgotten its grace after it expired, without an expiry event nobody asked for', () => {
    const { clock, events, store, start } = newStore();
    const open = start(1);
    clock.advance(TTL + GRACE - 1);
    start(2);
    clock.advance(SWEEP + 1);
    start(3);
    expect(store.get(open.id)).toBeUndefined();
    expect(events.filter((e) => e.verification.id === open.id).map((e) => e.type)).toEqual(['started']);
  });

  it('a live verification is still found, code and all, after 20k others came and went', () => {
    const run = newStore();
    // SMS expiry can be as long as 99:59:59.
    const live = run.start(99_999, { ttlSeconds: 99 * 3600, number: 99_999 });
    drive(run, 20_000, 200);
    expect(run.store.get(live.id)?.status).toBe('PENDING');
    expect(run.store.findLatest(numberOf(99_999))?.secret).toBe(live.secret);
    expect(run.store.findByReference('ref-99999')?.id).toBe(live.id);
  });

  it('with the clock standing still, the cap forgets the oldest beyond 10 000, from every index', () => {
    const { store, start } = newStore();
    const oldest = start(0, { number: 0 });
    for (let i = 1; i < MAX_KEPT + 50; i++) start(i, { number: i });
    expect(store.sizes).toEqual({ verifications: MAX_KEPT, numbers: MAX_KEPT, references: MAX_KEPT });
    expect(store.get(oldest.id)).toBeUndefined();
    expect(store.findLatest(numberOf(0))).toBeUndefined();
  });
});

describe('the callbacks kept for inspection', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(() => close?.());

  /** Answers allow at once, except for verification `held`, answered when the test says. */
  async function receiver() {
    let heldReply: ServerResponse | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (Buffer.concat(chunks).includes('"held"')) heldReply = res;
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"action":"allow"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    const release = () => heldReply?.writeHead(200, { 'content-type': 'application/json' }).end('{"action":"allow"}');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sinch/callbacks`, release };
  }

  const verification = (id: string) =>
    ({ id, method: 'sms', endpoint: numberOf(1), codeType: 'Numeric', secret: '123456', status: 'PENDING', reports: 0 }) as EmulatedVerification;

  it('are the newest few answered ones plus any older one still unanswered', async () => {
    const { url, release } = await receiver();
    const logger = captureLogger().logger;
    const sender = new CallbackSender({
      url,
      applicationKey: APP_KEY,
      applicationSecret: APP_SECRET,
      clock: () => new Date(),
      logger,
      timeoutMs: 5000,
      keepAnswered: 3,
    });

    const held = sender.requestApproval(verification('held'));
    for (let i = 0; i < 10; i++) await sender.requestApproval(verification(`v-${i}`));
    // Today's bug: all eleven kept, and every one after them, for as long as the process runs.
    expect(sender.deliveries.map((d) => [d.verificationId, d.status])).toEqual([
      ['held', undefined],
      ['v-7', 200],
      ['v-8', 200],
      ['v-9', 200],
    ]);

    release();
    expect(await held).toBe('allow');
    await sender.requestApproval(verification('v-10'));
    expect(sender.deliveries.map((d) => d.verificationId)).toEqual(['v-8', 'v-9', 'v-10']);
    sender.close();
  });
});
