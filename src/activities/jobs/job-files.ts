// The on-disk record of a local job, `<stateDir>/jobs/<name>/`. Everything a backend needs to
// follow a launch is here, not in memory, so a restarted worker (a new process with only the
// heartbeated handle) can poll, read and cancel what the dead one started:
//   job.log                 stdout + stderr of every launch (a `[slipway]` line marks each launch)
//   job.pid                 the current launch's record (the next launch stops it first)
//   events.jsonl            link to the current launch's events
//   runs/<pid>.json         each launch's record: pid, start time, token, where its log starts/ends
//   runs/<token>.exit       how the job ended ({code, signal}), written by its supervisor
//   runs/<token>.cancelled  present once the launch was cancelled (by cancel or by a newer launch)
//   runs/<token>.events.jsonl  the protocol events of that launch
//   output/                 SLIPWAY_OUTPUT_DIR: checkpoints and artifacts, kept across launches
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { uniqueTempPath } from '../../system/files.js';

export interface LaunchRecord {
  pid: number;
  /** Kernel start time of `pid`, to tell the job from a later process that reused the pid. */
  startTime: string | null;
  /** Names this launch's files in runs/; absent in records of older versions. */
  token?: string;
  /** Where this launch's output starts in job.log, and where it ends once a newer launch began. */
  logOffset: number;
  logEnd?: number;
  startedAt: string;
  command: string[];
}

export const logFile = (dir: string) => path.join(dir, 'job.log');
export const runsDir = (dir: string) => path.join(dir, 'runs');
const runFile = (dir: string, pid: number) => path.join(runsDir(dir), `${pid}.json`);
export const exitFile = (dir: string, token: string) => path.join(runsDir(dir), `${token}.exit`);
const cancelFile = (dir: string, token: string) => path.join(runsDir(dir), `${token}.cancelled`);
export const eventsFile = (dir: string, token: string | undefined) => (token ? path.join(runsDir(dir), `${token}.events.jsonl`) : null);

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = uniqueTempPath(file);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** The launch the next launch of this name must stop first. */
export const readCurrent = (dir: string): LaunchRecord | null => readJson<LaunchRecord>(path.join(dir, 'job.pid'));

/** The record of the launch a handle names (`id` is its pid); null if `startedAt` shows the pid was reused. */
export function readLaunch(dir: string, pid: number, startedAt: string): LaunchRecord | null {
  for (const rec of [readJson<LaunchRecord>(runFile(dir, pid)), readCurrent(dir)]) {
    if (rec?.pid === pid && rec.startedAt === startedAt) return rec;
  }
  return null;
}

/** Records a new launch as the current one; its events file starts empty and events.jsonl points at it. */
export function recordLaunch(dir: string, rec: LaunchRecord & { token: string }): void {
  mkdirSync(runsDir(dir), { recursive: true });
  writeAtomic(runFile(dir, rec.pid), JSON.stringify(rec));
  writeAtomic(path.join(dir, 'job.pid'), JSON.stringify(rec));
  writeFileSync(eventsFile(dir, rec.token)!, '');
  const link = path.join(dir, `events.jsonl.${process.pid}.tmp`);
  rmSync(link, { force: true }); // left by a worker that died right here
  symlinkSync(path.join('runs', `${rec.token}.events.jsonl`), link);
  renameSync(link, path.join(dir, 'events.jsonl'));
}

/** Marks where an earlier launch's output ends in job.log, so its events never include a later launch's. */
export function sealLaunch(dir: string, rec: LaunchRecord, logEnd: number): void {
  mkdirSync(runsDir(dir), { recursive: true });
  writeAtomic(runFile(dir, rec.pid), JSON.stringify({ ...rec, logEnd }));
}

/** How the launch ended, as its supervisor recorded it; null while it runs (or if the supervisor was SIGKILLed). */
export function readExit(dir: string, rec: LaunchRecord): { code: number; signal: string | null } | null {
  if (!rec.token) return null;
  try {
    const { code, signal } = JSON.parse(readFileSync(exitFile(dir, rec.token), 'utf8')) as { code: number | null; signal: string | null };
    return { code: code ?? 128 + (signal ? (constants.signals[signal as NodeJS.Signals] ?? 0) : 0), signal };
  } catch {
    return null;
  }
}

export function markCancelled(dir: string, rec: LaunchRecord): void {
  if (rec.token) writeFileSync(cancelFile(dir, rec.token), new Date().toISOString());
}

export const isCancelled = (dir: string, rec: LaunchRecord): boolean => rec.token !== undefined && existsSync(cancelFile(dir, rec.token));
