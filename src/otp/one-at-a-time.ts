/**
 * Runs the tasks given one key one after another in this process, in the order they arrive; a key
 * with nothing running holds no memory. Tasks of other keys run as they would.
 */
export class OneAtATime {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    // After the previous task of the key settles, whatever its outcome.
    const result = previous ? previous.then(task) : task();
    const tail = result.then(settled, settled);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task running or queued. */
  get size(): number {
    return this.tails.size;
  }
}

function settled(): void {}
