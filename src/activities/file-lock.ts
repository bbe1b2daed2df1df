// A lock file that keeps the read-modify-write of one folder's state apart, between the async
// calls of one worker and between workers. Jobs (one launch of a name at a time) and deployments
// (one change of a deployment at a time) both use it.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, processStartTime } from './jobs/process-group.js';

const POLL_MS = 50;
const EMPTY_LOCK_STALE_MS = 5_000;

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Runs `fn` holding `<dir>/lock`. A retried activity may overlap an attempt that is still running
 * in the same or another worker; the lock makes them take turns. A lock whose holder died (its pid
 * is gone, or now belongs to a process started later) is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'lock');
  const me = `${process.pid} ${processStartTime(process.pid) ?? ''}`;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pid, startTime] = readText(lock).split(' ');
      // An empty file is a holder between open and write; one that stays empty, a holder that died there.
      const stale = Number(pid) > 0 ? !isAlive(Number(pid), startTime || null) : ageMs(lock) > EMPTY_LOCK_STALE_MS;
      if (stale) removeFile(lock);
      else await sleep(POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    removeFile(lock);
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
