// Shared helpers for the job tests: a temp state dir, the fixture job, a test double of the activity
// context whose logs are collected instead of printed, and process checks.
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import { resolveRuntime } from '../../src/runtime.js';

export const FIXTURE_JOB = fileURLToPath(new URL('../fixtures/jobs/counting-job.mjs', import.meta.url));

const made: string[] = [];

/** A fresh temp folder, removed by `removeTempDirs()` (each file calls it in afterAll). */
export function tempDir(prefix = 'slipway-jobs-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Process groups of jobs a test launched; `killJobGroups()` ends any still running. */
const groups = new Set<number>();

/** Remembers a launched job (its pid leads its process group) so a failing test cannot leave it running. */
export function trackJob(pid: number | string): void {
  groups.add(Number(pid));
}

/** SIGKILL to every tracked job's process group still there (each file calls it in afterAll). */
export function killJobGroups(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  groups.clear();
}

/** A TrainInput that runs the fixture job; override what a test is about. */
export function fixtureInput(cwd: string, over: Partial<TrainInput> = {}): TrainInput {
  return {
    jobName: `train-${Math.random().toString(36).slice(2, 10)}`,
    command: [process.execPath, FIXTURE_JOB],
    cwd,
    env: {},
    data: [],
    params: { steps: 10, 'step-ms': 5 },
    codeVersion: 'test',
    useCache: false,
    ...over,
  };
}

/**
 * The SDK's MockActivityEnvironment: a test double of the activity context (heartbeats and
 * cancellation in-process, no worker or server); `info` simulates e.g. a retry attempt. The jobs are
 * real subprocesses; the same paths on a real worker are covered in test/integration/pipeline.test.ts.
 */
export function activityEnv(info: Partial<Info> = {}): { env: MockActivityEnvironment; logs: LogEntry[]; heartbeats: unknown[] } {
  const logs: LogEntry[] = [];
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('DEBUG', (entry) => logs.push(entry)) });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return { env, logs, heartbeats };
}

/** `env.run` with the activity's own result type (the SDK's signature infers `unknown`). */
export function runActivity<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn, ...args) as Promise<R>;
}

/** Whether `pid` still exists as a process that can run. A zombie does not count: PID 1 in this
 * sandbox does not reap orphans, so a killed grandchild can stay a zombie forever. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Whether `kill(pid, 0)` throws: the pid is gone entirely (reaped). */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Waits until `check()` is true; fails after `ms` (a bound against hangs, not a timing assertion). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** What trainModel needs on one host: the local backend and a local artifact store under `stateDir`. */
export function localJobDeps(stateDir: string) {
  const { jobBackends: backends, artifacts } = resolveRuntime({ stateDir, mlflow: { trackingUri: 'http://127.0.0.1:9' }, env: {} });
  return { stateDir, backends, artifacts };
}
