// Helpers shared by the contract suites and their fixtures: temp folders, bounded waits, and
// process checks on this machine. No vitest import here: the fixture model server loads it too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The stand-in training job (speaks the job protocol; see its header for flags). */
export const FIXTURE_JOB = fileURLToPath(new URL('../fixtures/jobs/counting-job.mjs', import.meta.url));
/** The stand-in model server the deploy contract serves. */
export const MODEL_SERVER = fileURLToPath(new URL('./fixtures/model-server.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The fixture model server answers this prompt with its --model, so a test can tell versions apart. */
export const WHICH_MODEL = 'which model?';

/** Temp folders of one suite, removed together. */
export class TempDirs {
  private readonly made: string[] = [];
  make(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.made.push(dir);
    return dir;
  }
  removeAll(): void {
    for (const dir of this.made.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGKILLs `pid`'s process group and `pid` itself; for cleanup after a failed test. */
export function killHere(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already, or not a group leader.
    }
  }
}

/** Waits until `check()` holds; throws after `ms` (a bound against hangs, not a timing assertion). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Non-empty lines of a JSON-lines file (none when it does not exist yet). */
export function readJsonLines<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
