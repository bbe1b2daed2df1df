// The conformance suite every JobBackend passes: real jobs (the counting-job fixture), real
// processes, real cancellation. A backend runs it with one line in a test file:
//   describeJobBackendContract('slurm', (stateDir) => new SlurmJobBackend({ stateDir, ... }));
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { JobBackend, JobEvent, JobHandle, JobSpec, JobStatus, ProgressEvent } from '../../src/activities/jobs/backend.js';
import { isRunning } from '../jobs/support.js';
import { FIXTURE_JOB, TempDirs, killHere, readJsonLines, waitFor } from './support.js';

export interface JobBackendContractOptions {
  /** argv that runs the fixture job with `flags` where the backend runs jobs (default: this Node and test/fixtures/jobs/counting-job.mjs). */
  jobCommand?: (flags: string[]) => string[];
  /** How to see and end processes where the jobs run (default: this machine). */
  processes?: { isRunning(pid: number): boolean; kill(pid: number): void };
  /** Bound on each wait, e.g. for a job to finish (default 60 s). A bound against hangs, never a timing assertion. */
  waitMs?: number;
}

interface Grandchild { type: 'grandchild'; pid: number; [key: string]: unknown }
const isGrandchild = (e: JobEvent): e is Grandchild => e.type === 'grandchild';
const LONG = ['--steps', '100000', '--step-ms', '10'];
/** Not ended yet: a cluster backend's job may wait `pending` in the queue before it runs. */
const live = (s: JobStatus | null | undefined) => s?.state === 'running' || s?.state === 'pending';

/**
 * Declares the JobBackend contract as a vitest `describe` block. `makeBackend(stateDir)` is called
 * once per test, and again with the same folder where a test plays a restarted worker. Use a short
 * SIGTERM→SIGKILL grace in it: one test runs a job that ignores SIGTERM.
 */
export function describeJobBackendContract(name: string, makeBackend: (stateDir: string) => JobBackend | Promise<JobBackend>, opts: JobBackendContractOptions = {}): void {
  const jobCommand = opts.jobCommand ?? ((flags: string[]) => [process.execPath, FIXTURE_JOB, ...flags]);
  const processes = opts.processes ?? { isRunning, kill: killHere };
  const waitMs = opts.waitMs ?? 60_000;
  const dirs = new TempDirs();
  const launched: Array<{ backend: JobBackend; handle: JobHandle }> = [];
  const counters: string[] = [];
  let seq = 0;

  /** A fresh state folder and a backend over it; the job spec's counter file lists every job process started. */
  async function setup() {
    const stateDir = dirs.make('slipway-contract-jobs-');
    const counter = path.join(stateDir, 'starts.txt');
    counters.push(counter);
    const spec = (flags: string[], over: Partial<JobSpec> = {}): JobSpec => ({
      name: `contract-${++seq}`,
      command: jobCommand(flags),
      cwd: stateDir,
      env: { COUNTING_JOB_COUNTER: counter },
      ...over,
    });
    /** Pids of the job processes that started (each writes its pid first thing). */
    const started = () => readJsonLines<number>(counter);
    return { stateDir, spec, started, backend: await makeBackend(stateDir) };
  }

  async function launch(backend: JobBackend, spec: JobSpec): Promise<JobHandle> {
    const handle = await backend.launch(spec);
    launched.push({ backend, handle });
    // A handle travels in heartbeats and workflow results: it must survive JSON.
    return JSON.parse(JSON.stringify(handle)) as JobHandle;
  }

  async function untilDone(backend: JobBackend, handle: JobHandle): Promise<JobStatus> {
    let status = await backend.poll(handle);
    await waitFor(async () => !live((status = await backend.poll(handle))), `job ${handle.name} to end`, waitMs);
    return status;
  }

  async function untilEvent<E extends JobEvent>(backend: JobBackend, handle: JobHandle, match: (e: JobEvent) => e is E, what: string): Promise<E> {
    let found: E | undefined;
    await waitFor(async () => (found = (await backend.events(handle)).find(match)) !== undefined, what, waitMs);
    return found!;
  }

  const progressed = (backend: JobBackend, handle: JobHandle, steps: number) =>
    waitFor(async () => (await backend.events(handle)).filter((e) => e.type === 'progress').length >= steps, `${steps} progress events`, waitMs);

  describe(`JobBackend contract: ${name}`, () => {
    afterEach(async () => {
      for (const { backend, handle } of launched.splice(0)) {
        if (live(await backend.poll(handle).catch(() => null))) await backend.cancel(handle).catch(() => undefined);
      }
      // Whatever the backend left behind (a failed test, a broken cancel) does not outlive the test.
      for (const counter of counters.splice(0)) for (const pid of readJsonLines<number>(counter)) if (processes.isRunning(pid)) processes.kill(pid);
    });
    afterAll(() => dirs.removeAll());

    it('runs a real command: poll reaches succeeded with exit code 0, output in the job folder', async () => {
      const { backend, spec } = await setup();
      const job = spec(['--steps', '4', '--step-ms', '5']);
      const handle = await launch(backend, job);
      expect(handle).toMatchObject({ name: job.name, backend: expect.any(String) as unknown, id: expect.any(String) as unknown });
      expect(Number.isNaN(Date.parse(handle.startedAt))).toBe(false);
      expect(await untilDone(backend, handle)).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
      const artifact = (await backend.events(handle)).find((e) => e.type === 'artifact');
      // The job wrote where SLIPWAY_OUTPUT_DIR pointed, and that is the handle's outputDir.
      expect(artifact).toMatchObject({ path: path.join(handle.outputDir, 'model.json') });
    });

    it('reports a failed job with its exit code', async () => {
      const { backend, spec } = await setup();
      const handle = await launch(backend, spec(['--steps', '5', '--step-ms', '5', '--fail-at', '2']));
      expect(await untilDone(backend, handle)).toEqual({ state: 'failed', exitCode: 3, signal: null });
      expect(await backend.logs(handle)).toContain('counting-job: failing at step 2 as asked');
    });

    it('gives events in order, and pages with `from` while the job runs', async () => {
      const { backend, spec } = await setup();
      const handle = await launch(backend, spec(['--steps', '6', '--step-ms', '20', '--checkpoint-every', '2']));
      // Read as a follower does: from a cursor, until the job has ended and a last read is done.
      const paged: JobEvent[] = [];
      for (let done = false; !done; ) {
        done = !live(await backend.poll(handle));
        paged.push(...(await backend.events(handle, { from: paged.length })));
        if (!done) await sleep(20);
      }
      const all = await backend.events(handle);
      expect(paged).toEqual(all);
      expect(all.map((e) => e.type)).toEqual(['progress', 'progress', 'checkpoint', 'progress', 'progress', 'checkpoint', 'progress', 'progress', 'artifact']);
      expect(all.filter((e): e is ProgressEvent => e.type === 'progress').map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await backend.events(handle, { from: 7 })).toEqual(all.slice(7));
      expect(await backend.events(handle, { from: all.length })).toEqual([]);
    });

    it('gives the log, stdout and stderr, whole or its last lines', async () => {
      const { backend, spec } = await setup();
      const handle = await launch(backend, spec(['--steps', '3', '--step-ms', '5']));
      await untilDone(backend, handle);
      const log = await backend.logs(handle);
      expect(log).toContain('counting-job: starting at step 0 of 3');
      expect(log).toContain('counting-job: this line goes to stderr');
      const last = await backend.logs(handle, { tailLines: 1 });
      expect(last.trim().split('\n')).toHaveLength(1);
      expect(last).toContain('"type":"artifact"');
      const lastTwo = (await backend.logs(handle, { tailLines: 2 })).trim().split('\n');
      expect(lastTwo).toHaveLength(2);
      expect(lastTwo[1]).toBe(last.trim());
    });

    it('cancel stops the job and the processes it started; poll then says cancelled', async () => {
      const { backend, spec, started } = await setup();
      const handle = await launch(backend, spec([...LONG, '--grandchild']));
      const { pid: grandchild } = await untilEvent(backend, handle, isGrandchild, 'the grandchild event');
      expect(processes.isRunning(grandchild)).toBe(true);
      await backend.cancel(handle);
      expect(processes.isRunning(grandchild)).toBe(false);
      expect(started().filter((pid) => processes.isRunning(pid))).toEqual([]);
      expect(await backend.poll(handle)).toMatchObject({ state: 'cancelled' });
      await backend.cancel(handle); // a retried cancel is harmless
      expect(await backend.poll(handle)).toMatchObject({ state: 'cancelled' });
    });

    it('cancel also ends a job that ignores SIGTERM', async () => {
      const { backend, spec, started } = await setup();
      // A shell that ignores SIGTERM (and passes that on) around the fixture.
      const job = spec([], { command: ['sh', '-c', `trap '' TERM; "$@"; sleep 1000`, 'sh', ...jobCommand([...LONG, '--grandchild'])] });
      const handle = await launch(backend, job);
      const { pid: grandchild } = await untilEvent(backend, handle, isGrandchild, 'the grandchild event');
      await backend.cancel(handle);
      expect(processes.isRunning(grandchild)).toBe(false);
      expect(started().filter((pid) => processes.isRunning(pid))).toEqual([]);
      expect(await backend.poll(handle)).toMatchObject({ state: 'cancelled' });
    });

    it('a new backend instance given the handle (a restarted worker) polls, reads and cancels the job', async () => {
      const { backend, spec, stateDir, started } = await setup();
      const handle = await launch(backend, spec([...LONG, '--grandchild']));
      const { pid: grandchild } = await untilEvent(backend, handle, isGrandchild, 'the grandchild event');
      await progressed(backend, handle, 3);
      const before = await backend.events(handle);

      const restarted = await makeBackend(stateDir);
      expect(await restarted.poll(handle)).toEqual({ state: 'running', exitCode: null, signal: null });
      const seen = await restarted.events(handle);
      expect(seen.slice(0, before.length)).toEqual(before);
      const all = await restarted.events(handle);
      const page = await restarted.events(handle, { from: 2 }); // read later: the job may have emitted more
      expect(page.slice(0, all.length - 2)).toEqual(all.slice(2));
      expect(await restarted.logs(handle)).toContain('counting-job: starting at step 0');

      await restarted.cancel(handle);
      expect(processes.isRunning(grandchild)).toBe(false);
      expect(started().filter((pid) => processes.isRunning(pid))).toEqual([]);
      expect(await restarted.poll(handle)).toMatchObject({ state: 'cancelled' });
      expect(await backend.poll(handle)).toMatchObject({ state: 'cancelled' }); // both views agree
    });

    it('a new backend instance sees a job it did not launch finish, with its exit code and all its events', async () => {
      const { backend, spec, stateDir } = await setup();
      const handle = await launch(backend, spec(['--steps', '30', '--step-ms', '10']));
      await progressed(backend, handle, 1);
      const restarted = await makeBackend(stateDir);
      expect(await untilDone(restarted, handle)).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
      const events = await restarted.events(handle);
      expect(events.filter((e) => e.type === 'progress')).toHaveLength(30);
      expect(events.at(-1)?.type).toBe('artifact');
    });

    it('launching a name again stops the earlier job first and says so in `replaced`', async () => {
      const { backend, spec, stateDir, started } = await setup();
      const first = await launch(backend, spec(['--steps', '100000', '--step-ms', '10']));
      await progressed(backend, first, 1); // it really runs
      const second = await launch(backend, spec(['--steps', '99999', '--step-ms', '10'], { name: first.name }));
      expect(second.replaced).toBe(first.id);
      expect(second.id).not.toBe(first.id);
      expect(await backend.poll(first)).toMatchObject({ state: 'cancelled' });
      expect(live(await backend.poll(second))).toBe(true);
      await progressed(backend, second, 1);
      expect(started().filter((pid) => processes.isRunning(pid))).toHaveLength(1);
      // Each launch's events are its own, also for a reader that comes later (total_steps tells them apart).
      const totals = async (b: JobBackend, h: JobHandle) => [...new Set((await b.events(h)).map((e) => (e as ProgressEvent).total_steps))];
      expect(await totals(backend, first)).toEqual([100000]);
      expect(await totals(await makeBackend(stateDir), first)).toEqual([100000]);
      expect(await totals(backend, second)).toEqual([99999]);
    });

    it('concurrent launches of one name, from one worker and another, end with one running job', async () => {
      const { backend, spec, stateDir, started } = await setup();
      const job = spec(LONG);
      const other = await makeBackend(stateDir);
      const handles = await Promise.all([launch(backend, job), launch(backend, job), launch(other, job)]);
      const states = await Promise.all(handles.map(async (h) => (await backend.poll(h)).state));
      expect(states.filter((s) => s === 'running' || s === 'pending')).toHaveLength(1);
      expect(states.filter((s) => s === 'cancelled')).toHaveLength(handles.length - 1);
      const survivor = handles[states.findIndex((s) => s === 'running' || s === 'pending')]!;
      expect(handles.map((h) => h.id)).toContain(survivor.replaced);
      await progressed(backend, survivor, 1);
      expect(started().filter((pid) => processes.isRunning(pid))).toHaveLength(1);
    });
  });
}
