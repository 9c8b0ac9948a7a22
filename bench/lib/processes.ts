import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The parent side of bench/lib/child.ts: starts a TypeScript entry point as a child process
 * (`node --expose-gc -r @swc-node/register`), stdout and stderr to files, an IPC channel to ask it
 * for its CPU time and heap, and to stop it.
 */
export class Child {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  private exited = false;
  url = '';

  private constructor(
    readonly name: string,
    private readonly process: ChildProcess,
    readonly logFile: string,
  ) {
    process.on('message', (message: { id?: number; result?: unknown; error?: string }) => {
      const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id!);
      if (message.error !== undefined) waiting.reject(new Error(`${name}: ${message.error}`));
      else waiting.resolve(message.result);
    });
    process.on('exit', (code, signal) => {
      this.exited = true;
      for (const { reject } of this.pending.values()) reject(new Error(`${name} exited (${code ?? signal}); see ${logFile}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  static async start(name: string, entry: string, env: Record<string, string>, logDir: string): Promise<Child> {
    const logFile = path.join(logDir, `${name}.log`);
    const out = openSync(logFile, 'a');
    // BENCH_PROFILE_DIR=dir: each child writes a V8 CPU profile there (<name>-….cpuprofile) when it stops;
    // BENCH_PROFILE_INTERVAL=µs samples more often than V8's 1000 µs (100 resolves one request's parts).
    const profile = process.env.BENCH_PROFILE_DIR
      ? [
          '--cpu-prof',
          ...(process.env.BENCH_PROFILE_INTERVAL ? [`--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL}`] : []),
          `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`,
          `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
        ]
      : [];
    const child = spawn(process.execPath, [...profile, '--expose-gc', '-r', '@swc-node/register', entry], {
      cwd: path.join(__dirname, '..', '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out, 'ipc'],
    });
    closeSync(out);
    const started = new Child(name, child, logFile);
    started.url = await new Promise<string>((resolve, reject) => {
      const onMessage = (message: { ready?: boolean; url?: string }) => {
        if (!message.ready) return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve(message.url ?? '');
      };
      const onExit = (code: number | null) => {
        const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
        reject(new Error(`${name} exited with ${code} before it was ready; the end of ${logFile}:\n${tail}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return started;
  }

  ask<T>(op: string, extra: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited; see ${this.logFile}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.process.send({ id, op, ...extra });
    });
  }

  /** CPU time of the whole process (every thread), in milliseconds. */
  async cpuMs(): Promise<number> {
    const { user, system } = await this.ask<{ user: number; system: number }>('cpu');
    return (user + system) / 1000;
  }

  /** The live heap in bytes: heapUsed after full collections, once the child is idle (child.ts). */
  heapAfterGc(): Promise<number> {
    return this.ask<number>('heap');
  }

  async logTail(lines = 20): Promise<string> {
    return (await readFile(this.logFile, 'utf8')).split('\n').slice(-lines).join('\n');
  }

  /** An orderly stop through IPC; killed if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.ask('stop').catch(() => {});
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** For the emergency exit path: no waiting. */
  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }
}
