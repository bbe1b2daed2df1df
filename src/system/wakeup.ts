// A wake-up call for loops that wait on something another process does (appends to a file,
// exits): the loop sleeps until told that something changed, or for a bound at most, so it reacts
// at once without polling fast, and still recovers when a notification is missed (inotify limits,
// filesystems that send none).
import { watch, type FSWatcher } from 'node:fs';

export class Wakeup {
  private pending = false;
  private readonly waiters = new Set<() => void>();
  private readonly watchers: FSWatcher[] = [];

  /** Records a change: waiting callers of `next` return now; otherwise the next call returns at once. */
  readonly notify = (): void => {
    this.pending = true;
    for (const wake of [...this.waiters]) wake();
  };

  /**
   * Notifies on every change inside `file` (a file: writes to it; a folder: entries created,
   * renamed or written) whose entry name passes `accept`. Best effort: where it cannot watch,
   * `next` waits out its bound instead.
   */
  watch(file: string, accept: (name: string) => boolean = () => true): this {
    try {
      // Not persistent: a watch must never keep a finished worker or CLI alive.
      const watcher = watch(file, { persistent: false }, (_event, name) => {
        if (name === null || accept(String(name))) this.notify();
      });
      watcher.on('error', () => watcher.close());
      this.watchers.push(watcher);
    } catch {
      // Not there, or no watches left: the bound in `next` still ends each wait.
    }
    return this;
  }

  /** Resolves at the next change (at once when one came since the last call), after `maxMs`, or when `signal` aborts. */
  async next(maxMs: number, signal?: AbortSignal): Promise<void> {
    if (!this.pending && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, maxMs);
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    this.pending = false;
  }

  /** Stops watching and releases whoever waits. */
  close(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    this.notify();
  }
}

/** Sleeps `ms`, or less when `signal` aborts; never rejects (the caller checks the signal). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Wakeup().next(ms, signal);
}
