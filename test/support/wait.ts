// Bounded waiting for something another process does: a deadline instead of a hang.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it is true; throws naming `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(everyMs);
  }
}
