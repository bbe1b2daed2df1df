// Following a local job by events: the backend wakes its follower on the job's progress lines and
// on its exit, so nothing waits for a poll. Each wait below is bounded at ten minutes: a follower
// that only woke on its bound would hang and fail on the test's own timeout.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobHandle, JobStatus } from '../../src/activities/jobs/backend.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import { activityEnv, FIXTURE_JOB, fixtureInput, killJobGroups, localJobDeps, removeTempDirs, runActivity, tempDir, trackJob } from './support.js';

const NEVER = 600_000;
const run = promisify(execFile);
const localBackendModule = fileURLToPath(new URL('../../src/activities/jobs/local.ts', import.meta.url));

/** Follows a job only through `changed`: returns its final status and how many wake-ups it took. */
async function followByEvents(backend: LocalJobBackend, handle: JobHandle): Promise<{ status: JobStatus; wakeups: number; progress: number }> {
  let wakeups = 0;
  for (;;) {
    const status = await backend.poll(handle);
    if (status.state !== 'running') {
      const events = await backend.events(handle);
      return { status, wakeups, progress: events.filter((e) => e.type === 'progress').length };
    }
    await backend.changed(handle, NEVER);
    wakeups += 1;
  }
}

afterAll(() => {
  killJobGroups();
  removeTempDirs();
});

describe('LocalJobBackend.changed', () => {
  it('wakes on each progress line and on the exit of a job this process launched', { timeout: 30_000 }, async () => {
    const stateDir = tempDir();
    const backend = new LocalJobBackend({ stateDir });
    const handle = await backend.launch({ name: 'events-own', command: [process.execPath, FIXTURE_JOB, '--steps', '5', '--step-ms', '100'], cwd: stateDir, env: {} });
    trackJob(handle.id);
    const { status, wakeups, progress } = await followByEvents(backend, handle);
    expect(status).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
    expect(progress).toBe(5);
    // Steps 100 ms apart: the follower woke between them, not only once at the end.
    expect(wakeups).toBeGreaterThanOrEqual(3);
  });

  it('wakes a process that did not launch the job (a restarted worker) on its log and exit file', { timeout: 30_000 }, async () => {
    const stateDir = tempDir();
    // Launched by another process, which exits at once: this one is not the job's parent.
    const launch = `import { LocalJobBackend } from ${JSON.stringify(localBackendModule)};
const h = await new LocalJobBackend({ stateDir: ${JSON.stringify(stateDir)} }).launch({ name: 'events-other', command: [process.execPath, ${JSON.stringify(FIXTURE_JOB)}, '--steps', '3', '--step-ms', '300'], cwd: ${JSON.stringify(stateDir)}, env: {} });
process.stdout.write(JSON.stringify(h));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', launch]);
    const handle = JSON.parse(stdout) as JobHandle;
    trackJob(handle.id);
    const { status, progress } = await followByEvents(new LocalJobBackend({ stateDir }), handle);
    expect(status).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
    expect(progress).toBe(3);
  });

  it('wakes on a failing exit too, with its code', { timeout: 30_000 }, async () => {
    const stateDir = tempDir();
    const backend = new LocalJobBackend({ stateDir });
    const handle = await backend.launch({ name: 'events-fail', command: [process.execPath, FIXTURE_JOB, '--steps', '5', '--step-ms', '50', '--fail-at', '2'], cwd: stateDir, env: {} });
    trackJob(handle.id);
    expect((await followByEvents(backend, handle)).status).toEqual({ state: 'failed', exitCode: 3, signal: null });
  });
});

describe('trainModel on the local backend', () => {
  it('finishes by events when its poll interval and keep-alive are ten minutes', { timeout: 30_000 }, async () => {
    const stateDir = tempDir();
    const { env } = activityEnv();
    const { trainModel } = createJobActivities({ ...localJobDeps(stateDir), pollIntervalMs: NEVER, heartbeatEveryMs: NEVER });
    const result = await runActivity(env, trainModel, fixtureInput(stateDir, { params: { steps: 5, 'step-ms': 20 } }));
    expect(result).toMatchObject({ cached: false, finalStep: 5 });
    expect(result.lossByStep).toHaveLength(5);
  });
});
