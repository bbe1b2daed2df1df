// Detached server processes that outlive the worker that started them. Each runs in its own
// process group (so a stop also ends what it spawned) and carries a tag in its environment, so a
// later worker can tell "our server" from an unrelated process that reused the pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const TAG_VAR = 'SLIPWAY_PROCESS_TAG';

/** True while `pid` runs (zombies count as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "pid (comm) S ...": the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // No procfs (macOS): kill(0) is all we have.
  }
}

const HAS_PROCFS = existsSync('/proc/self/environ');

/** True when `pid` runs and was started by us with `tag`; without procfs, falls back to liveness. */
export function isOurs(pid: number | null | undefined, tag: string): pid is number {
  if (!pid || !isAlive(pid)) return false;
  if (!HAS_PROCFS) return true;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${TAG_VAR}=${tag}`);
  } catch {
    return false;
  }
}

/**
 * Starts `argv` detached, in its own process group, output appended to `logFile`. The log is a
 * file descriptor, not a pipe, so the server keeps writing after the worker exits.
 */
export function spawnDetached(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; tag: string }): ChildProcess {
  const [command, ...args] = argv;
  if (!command) throw new Error('empty command');
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...opts.env, [TAG_VAR]: opts.tag },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // A bad command surfaces as the 'exit' the caller watches, not as an unhandled 'error'.
    child.on('error', () => undefined);
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** SIGTERM to the group, SIGKILL after `graceMs`, and SIGKILL again for stragglers left in the group. */
export async function stopGroup(pid: number, graceMs = 5_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(20);
}

/** One GET; true on a 2xx. Never throws. */
export async function probe(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Polls `url` until it answers 2xx. Resolves 'ready', 'exited' (the process died first) or
 * 'timeout'; the caller decides what each means.
 */
export async function waitReady(url: string, pid: number, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe(url)) return 'ready';
    if (!isAlive(pid)) return 'exited';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(100);
  }
}
