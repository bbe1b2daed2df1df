// Process-group helpers for the local backend. A job is the leader of its own process group
// (spawned detached), so one signal reaches everything it started: data-loader workers,
// torchrun ranks, shell pipelines.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `comm` (field 2) may hold spaces and parentheses: the fixed fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgrp: Number(fields[2]), startTime: fields[19] ?? '' };
  } catch {
    return null;
  }
}

/** The kernel's start time of `pid` (Linux), used to tell a live job from a recycled pid. */
export function processStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null;
}

/**
 * Whether `pid` is a running process (a zombie counts as gone: it can no longer do anything, and
 * an orphan's zombie may linger where PID 1 does not reap). With `startTime`, a pid that was
 * recycled by an unrelated process also counts as gone.
 */
export function isAlive(pid: number, startTime?: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readStat(pid);
  if (!stat) return true; // no /proc (not Linux): trust kill(0)
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return !startTime || stat.startTime === startTime;
}

/** Pids of the group's members that can still run (not zombies); empty where /proc is missing. */
function liveMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const stat = readStat(pid);
      return stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X';
    });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

async function waitGone(pid: number, startTime: string | null, exited: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (exited) {
      // Our own child: wait for Node to reap it, so the pid is really gone when we return.
      const done = await Promise.race([exited.then(() => true), sleep(Math.max(0, deadline - Date.now())).then(() => false)]);
      if (done) return true;
    } else if (!isAlive(pid, startTime)) {
      return true;
    } else {
      await sleep(50);
    }
  }
  return exited ? false : !isAlive(pid, startTime);
}

/**
 * Stops the process group led by `pid`: SIGTERM (a training script can save a last checkpoint),
 * then SIGKILL after `graceMs`. Resolves when the leader is gone. `exited` is the leader's exit
 * promise when it is this process's child; otherwise the pid is polled.
 */
export async function killProcessGroup(pid: number, opts: { graceMs: number; startTime: string | null; exited?: Promise<unknown> }): Promise<void> {
  if (!opts.exited && !isAlive(pid, opts.startTime)) return; // never signal a group we cannot vouch for
  signalGroup(pid, 'SIGTERM');
  const gone = await waitGone(pid, opts.startTime, opts.exited, opts.graceMs);
  // Also ends stragglers that outlived the leader (children that ignore SIGTERM).
  signalGroup(pid, 'SIGKILL');
  if (!gone) await waitGone(pid, opts.startTime, opts.exited, 30_000);
  // A signal is delivered asynchronously: wait until the rest of the group has really exited too.
  const deadline = Date.now() + 10_000;
  while (liveMembers(pid).length > 0 && Date.now() < deadline) await sleep(20);
}
