// A lock file that keeps the read-modify-write of one folder's state apart, between the async
// calls of one worker and between workers. Jobs (one launch of a name at a time) and deployments
// (one change of a deployment at a time) both use it.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, watch, writeSync } from 'node:fs';
import path from 'node:path';
import { isAlive, processStartTime } from './jobs/process-group.js';

/** Longest wait between two tries at a lock another process holds (a change in its folder wakes us sooner). */
const RETRY_MS = 50;
const EMPTY_LOCK_STALE_MS = 5_000;

/**
 * This process's callers per lock file, in arrival order: each waits for the one before it, and is
 * woken the moment that one is done. Only the head of the queue tries the file, so a thousand
 * waiters in one worker cost nothing while they wait and are served first come, first served.
 */
const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding `<dir>/lock`. A retried activity may overlap an attempt that is still running
 * in the same or another worker; the lock makes them take turns. A lock whose holder died (its pid
 * is gone, or now belongs to a process started later) is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'lock');
  const before = queues.get(lock) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = before.then(() => mine);
  queues.set(lock, tail);
  await before;
  try {
    await acquire(lock);
    try {
      return await fn();
    } finally {
      removeFile(lock);
    }
  } finally {
    if (queues.get(lock) === tail) queues.delete(lock);
    done();
  }
}

/** Takes the lock file, waiting while another process holds it. */
async function acquire(lock: string): Promise<void> {
  const me = `${process.pid} ${processStartTime(process.pid) ?? ''}`;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pid, startTime] = readText(lock).split(' ');
      // An empty file is a holder between open and write; one that stays empty, a holder that died there.
      const stale = Number(pid) > 0 ? !isAlive(Number(pid), startTime || null) : ageMs(lock) > EMPTY_LOCK_STALE_MS;
      if (stale) removeFile(lock);
      else await changeIn(path.dirname(lock), RETRY_MS);
    }
  }
}

/**
 * Resolves when something in `dir` changes (the holder removing the lock file), or after `ms`:
 * the timeout covers a removal between our failed try and the watch starting, and file systems
 * where watching is not offered.
 */
function changeIn(dir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const ac = new AbortController();
    const finish = () => {
      clearTimeout(timer);
      ac.abort();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    try {
      watch(dir, { signal: ac.signal, persistent: false }, finish).on('error', finish);
    } catch {
      // No watching here: the timeout alone.
    }
  });
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
