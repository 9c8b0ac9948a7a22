// The emulator's memory over a long run (issue 11): start → report cycles over HTTP through the
// real gateway, signed callbacks answered by a local receiver, the clock moved 1 s per cycle.
// Prints heapUsed after a full GC at each checkpoint; a flat line means the state is bounded.
//   node --expose-gc -r @swc-node/register bench/emulator-heap.ts   (EMULATOR_HEAP_CYCLES=10000,50000)
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/logging/logger';
import { SinchEmulator } from '../src/sinch/emulator/server';
import { SinchGateway } from '../src/sinch/gateway';

const CHECKPOINTS = (process.env.EMULATOR_HEAP_CYCLES ?? '10000,50000').split(',').map(Number);
const LANES = 8;
const KEY = '5f5c418a-0f91-4bbc-8234-a9bf5eddad97';
const SECRET = 'JViE5vDor0Sw3WllZka15Q==';

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  let now = Date.parse('2026-01-15T10:00:00Z');
  const clock = () => new Date(now);
  const logger = createLogger({ level: 'silent' });

  // Allows every start; answers the other events with an empty 200.
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const isRequest = Buffer.concat(chunks).includes('"VerificationRequestEvent"');
      res.writeHead(200, { 'content-type': 'application/json' }).end(isRequest ? '{"action":"allow"}' : '');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/sinch/callbacks`;

  const emulator = new SinchEmulator({ applicationKey: KEY, applicationSecret: SECRET, logger, clock, callbackUrl });
  const baseUrl = await emulator.start();
  const gateway = new SinchGateway({ baseUrl, applicationKey: KEY, applicationSecret: SECRET, auth: 'signed', timeoutMs: 5000, logger, clock });

  let done = 0;
  const cycle = async (i: number) => {
    const phoneNumber = `+4477009${String(i % 100_000).padStart(5, '0')}`;
    const { id } = await gateway.start({ phoneNumber, method: 'sms', reference: `bench-${i}`, codeTtlSeconds: 300 });
    await gateway.report({ id, method: 'sms', code: emulator.lastCodeFor(phoneNumber)! });
  };
  const measure = async (label: string) => {
    await emulator.settled();
    for (let i = 0; i < 3; i++) gc();
    const mb = (process.memoryUsage().heapUsed / 1024 / 1024).toFixed(1);
    console.log(`${label}: heapUsed ${mb} MB ${JSON.stringify(emulator.stats)}`);
  };

  await measure('0 cycles');
  const started = Date.now();
  for (const target of CHECKPOINTS) {
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (done < target) {
          const i = done++;
          now += 1000;
          await cycle(i);
        }
      }),
    );
    await measure(`${target} cycles (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await emulator.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
