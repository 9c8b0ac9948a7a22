/**
 * The child side of the bench's process protocol. Every measured process (the service, the floor,
 * the Express peer, the Sinch emulator) runs in a process of its own, started by bench/run.ts with
 * an IPC channel, so that its CPU time and its heap are its own. The parent asks; the child answers:
 *   { id, op: 'cpu' }          → { user, system } in microseconds since the process started
 *                                 (process.cpuUsage: every thread, worker threads included)
 *   { id, op: 'heap' }         → heapUsed in bytes after full garbage collections, once the child has
 *                                 been idle for half a second (--expose-gc; see heapAfterGc)
 *   { id, op: 'stop' }         → stops the child's work, answers, then exits
 *   anything else              → the child's own `extra` handler (the emulator's `code`)
 * Once listening the child sends { ready: true, ...info }.
 */
export interface ChildHooks {
  stop(): Promise<void>;
  extra?(message: Record<string, unknown>): unknown;
}

export function serveParent(hooks: ChildHooks): void {
  if (!process.send) throw new Error('started without an IPC channel: run it through bench/run.ts');
  process.on('message', (message: Record<string, unknown>) => {
    void answer(hooks, message).then(
      (result) => process.send!({ id: message.id, result }),
      (error: unknown) => process.send!({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The parent went away (killed, crashed): nobody will ask us to stop.
  process.on('disconnect', () => {
    void hooks.stop().finally(() => process.exit(0));
  });
}

export function announceReady(info: Record<string, unknown>): void {
  process.send!({ ready: true, ...info });
}

async function answer(hooks: ChildHooks, message: Record<string, unknown>): Promise<unknown> {
  switch (message.op) {
    case 'cpu':
      return process.cpuUsage();
    case 'heap':
      return heapAfterGc();
    case 'stop':
      await hooks.stop();
      setImmediate(() => process.exit(0));
      return true;
    default:
      if (!hooks.extra) throw new Error(`unknown op ${String(message.op)}`);
      return hooks.extra(message);
  }
}

/**
 * The live heap: heapUsed after full collections, read twice half a second apart, the lower one.
 * Read at once after a burst of load, heapUsed after gc() still holds what the burst left in
 * flight (sockets closing, timers, pages not yet swept): in one probe it read 66–82 MiB where a
 * heap snapshot of the same moment held 63–64 MiB of reachable objects; after a pause it reads the
 * snapshot's figure within 1 MiB.
 */
async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap asked of a child started without --expose-gc');
  const read = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const first = read();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return Math.min(first, read());
}

/** A required environment variable (the parent sets them all). */
export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}
