// A restarted worker is a new process: it is not the job's parent and shares no memory with the
// worker that launched it. The contract suite plays the restart with a new backend instance in
// this process; here the launching worker really is another process, and it is gone.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { JobHandle } from '../../src/activities/jobs/backend.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { isRunning } from '../jobs/support.js';
import { FIXTURE_JOB, REPO_ROOT, TempDirs, killHere, waitFor } from './support.js';

const LAUNCHER = new URL('./fixtures/launch-and-exit.ts', import.meta.url).pathname;
const dirs = new TempDirs();
const handles: Array<{ stateDir: string; handle: JobHandle }> = [];

/** Launches the fixture job from a worker process that exits at once; returns the handle it printed. */
async function launchFromDeadWorker(flags: string[]): Promise<{ stateDir: string; handle: JobHandle }> {
  const stateDir = dirs.make('slipway-contract-restart-');
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', LAUNCHER, stateDir, 'restart-job', process.execPath, FIXTURE_JOB, ...flags], { cwd: REPO_ROOT }, (err, out) => (err ? reject(err) : resolve(out))),
  );
  const launched = { stateDir, handle: JSON.parse(stdout) as JobHandle };
  handles.push(launched);
  return launched;
}

async function untilDone(backend: LocalJobBackend, handle: JobHandle) {
  let status = await backend.poll(handle);
  await waitFor(async () => (status = await backend.poll(handle)).state !== 'running', 'the job to end', 60_000);
  return status;
}

afterEach(async () => {
  for (const { stateDir, handle } of handles.splice(0)) {
    await new LocalJobBackend({ stateDir, killGraceMs: 500 }).cancel(handle);
    if (isRunning(Number(handle.id))) killHere(Number(handle.id));
  }
});
afterAll(() => dirs.removeAll());

describe('LocalJobBackend after a real worker restart', () => {
  it('a new worker sees the orphaned job succeed, with its exit code and every event', async () => {
    const { stateDir, handle } = await launchFromDeadWorker(['--steps', '20', '--step-ms', '20']);
    const backend = new LocalJobBackend({ stateDir });
    expect(await backend.poll(handle)).toEqual({ state: 'running', exitCode: null, signal: null });
    expect(await untilDone(backend, handle)).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
    const events = await backend.events(handle);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(20);
    expect(events.at(-1)?.type).toBe('artifact');
    // events.jsonl is kept by whoever reads: a second reader adds nothing twice.
    await new LocalJobBackend({ stateDir }).events(handle);
    const kept = readFileSync(path.join(stateDir, 'jobs', 'restart-job', 'events.jsonl'), 'utf8').trim().split('\n');
    expect(kept.map((l) => JSON.parse(l) as unknown)).toEqual(events);
  });

  it('a new worker sees the orphaned job fail with its exit code', async () => {
    const { stateDir, handle } = await launchFromDeadWorker(['--steps', '20', '--step-ms', '10', '--fail-at', '5']);
    expect(await untilDone(new LocalJobBackend({ stateDir }), handle)).toEqual({ state: 'failed', exitCode: 3, signal: null });
  });

  it('a new worker cancels the orphaned job and its children; any later worker then sees it cancelled', async () => {
    const { stateDir, handle } = await launchFromDeadWorker(['--steps', '100000', '--step-ms', '10', '--grandchild']);
    const backend = new LocalJobBackend({ stateDir, killGraceMs: 500 });
    let grandchild = 0;
    await waitFor(async () => (grandchild = Number(((await backend.events(handle)).find((e) => e.type === 'grandchild') as { pid?: number } | undefined)?.pid ?? 0)) > 0, 'the grandchild event', 60_000);
    await backend.cancel(handle);
    expect(isRunning(Number(handle.id))).toBe(false);
    expect(isRunning(grandchild)).toBe(false);
    expect(await new LocalJobBackend({ stateDir }).poll(handle)).toMatchObject({ state: 'cancelled', exitCode: 143, signal: 'SIGTERM' });
  });
});
