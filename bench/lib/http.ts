import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * The load generator's HTTP: node:http with one keep-alive agent per target, the same for every
 * target (the service, the floor, the Express peer). Bodies are read whole and parsed as JSON.
 */
export class HttpTarget {
  /** Idle sockets are closed after 4 s, before any server closes them (Express: 5 s). */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  private readonly host: string;
  private readonly port: number;

  constructor(readonly baseUrl: string) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  /** Answers the status and the parsed JSON body (undefined when the body is not JSON). */
  send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          path,
          method,
          agent: this.agent,
          headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadResult {
  count: number;
  elapsedMs: number;
  latencies: number[];
  perSecond: number;
}

/**
 * `concurrency` clients running `task` back to back, until `durationMs` has passed or `count`
 * tasks have been started (whichever is given; both: whichever comes first). A task that throws
 * stops the run: a wrong answer means the figure would be of something else.
 */
export async function closedLoop(options: {
  concurrency: number;
  durationMs?: number;
  count?: number;
  task: (i: number) => Promise<void>;
}): Promise<LoadResult> {
  const { concurrency, durationMs = Number.POSITIVE_INFINITY, count = Number.POSITIVE_INFINITY, task } = options;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count && performance.now() < deadline) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return { count: latencies.length, elapsedMs, latencies, perSecond: (latencies.length * 1000) / elapsedMs };
}

/** The value below which a share `q` of the values lie (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The middle value; for an even count the mean of the two middle ones (the nearest-rank `quantile` would take the lower, which biases a handful of rounds' ratios low). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
