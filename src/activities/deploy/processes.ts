// Detached server processes that outlive the worker that started them. Each runs in its own
// process group (so a stop also ends what it spawned) and carries a tag in its environment, so a
// later worker can tell "our server" from an unrelated process that reused the pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wakeup } from '../../system/wakeup.js';

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
  // Most servers are gone within milliseconds of SIGTERM: look again soon, then less often.
  let gap = 2;
  while (isAlive(pid) && Date.now() < deadline) {
    await sleep(Math.min(gap, Math.max(1, deadline - Date.now())));
    gap = Math.min(gap * 2, 50);
  }
  signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(5);
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

const FIRST_PROBE_GAP_MS = 5;
const MAX_PROBE_GAP_MS = 100;

/** What `waitReady` can watch besides the clock: the server's log (servers say when they listen) and its exit. */
export interface ReadySignals {
  logFile?: string;
  /** The server as this process spawned it; a server found after a restart has only its pid. */
  child?: ChildProcess;
}

/**
 * Probes `url` until it answers 2xx: again 5 ms later, doubling to 100 ms, and at once whenever
 * the server writes to its log or exits. Resolves 'ready', 'exited' (the process died first) or
 * 'timeout'; the caller decides what each means.
 */
export async function waitReady(url: string, pid: number, timeoutMs: number, signals: ReadySignals = {}): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  const wakeup = new Wakeup();
  if (signals.logFile) wakeup.watch(signals.logFile);
  signals.child?.once('exit', wakeup.notify);
  let gap = FIRST_PROBE_GAP_MS;
  try {
    for (;;) {
      const probedAt = Date.now();
      if (await probe(url)) return 'ready';
      if (!isAlive(pid)) return 'exited';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await wakeup.next(Math.min(gap, left));
      gap = Math.min(gap * 2, MAX_PROBE_GAP_MS);
      // A server that logs without pause still gets probed at most every 5 ms.
      const since = Date.now() - probedAt;
      if (since < FIRST_PROBE_GAP_MS) await sleep(FIRST_PROBE_GAP_MS - since);
    }
  } finally {
    signals.child?.off('exit', wakeup.notify);
    wakeup.close();
  }
}
