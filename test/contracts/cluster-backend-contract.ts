// What a cluster job backend (Slurm, Ray) adds to the JobBackend contract, checked against the
// engine's own view of its jobs: attach to a live launch (no second submission), pending with the
// engine's reason while the only slot is busy, JobUnsatisfiable at launch, cancel leaving the job in
// the engine's cancelled state, a failed job's exit code and log tail. A backend runs it with:
//   describeClusterBackendContract('slurm', (stateDir) => new SlurmJobBackend({ stateDir, slurmConf }), { slot, unsatisfiable, engine });
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JobUnsatisfiable, type JobBackend, type JobHandle, type JobResources, type JobSpec, type JobStatus } from '../../src/activities/jobs/backend.js';
import { FIXTURE_JOB, TempDirs, waitFor } from './support.js';

/** The engine's own answers, read with its own tools (squeue/scontrol, Ray's job list), not through the backend. */
export interface ClusterEngineView {
  /** Ids of every submission of this job name the engine knows (live or finished). */
  submissions(name: string): Promise<string[]>;
  /** The engine's state word for a submission (Slurm `CANCELLED`, Ray `STOPPED`). */
  state(id: string): Promise<string>;
  /** The state word the engine gives a cancelled job. */
  cancelledState: string;
}

export interface ClusterBackendContractOptions {
  /** A request that takes the cluster's only slot: while one such job runs, a second must wait. */
  slot: JobResources;
  /** A request the cluster can never satisfy (more GPUs than any node has). */
  unsatisfiable: JobResources;
  engine: ClusterEngineView;
  /** argv that runs the fixture job with `flags` on the cluster (default: this Node and the counting-job fixture). */
  jobCommand?: (flags: string[]) => string[];
  /** Bound on each wait (default 90 s): a bound against hangs, never a timing assertion. */
  waitMs?: number;
}

const LONG = ['--steps', '100000', '--step-ms', '20'];
const isLive = (s: JobStatus) => s.state === 'running' || s.state === 'pending';

export function describeClusterBackendContract(name: string, makeBackend: (stateDir: string) => JobBackend | Promise<JobBackend>, opts: ClusterBackendContractOptions): void {
  const jobCommand = opts.jobCommand ?? ((flags: string[]) => [process.execPath, FIXTURE_JOB, ...flags]);
  const waitMs = opts.waitMs ?? 90_000;
  const dirs = new TempDirs();
  const launched: Array<{ backend: JobBackend; handle: JobHandle }> = [];
  let seq = 0;

  async function setup() {
    const stateDir = dirs.make('slipway-cluster-contract-');
    const spec = (flags: string[], over: Partial<JobSpec> = {}): JobSpec => ({ name: `cluster-${process.pid}-${++seq}`, command: jobCommand(flags), cwd: stateDir, env: {}, ...over });
    return { stateDir, spec, backend: await makeBackend(stateDir) };
  }

  async function launch(backend: JobBackend, spec: JobSpec): Promise<JobHandle> {
    const handle = await backend.launch(spec);
    launched.push({ backend, handle });
    return JSON.parse(JSON.stringify(handle)) as JobHandle;
  }

  async function untilState(backend: JobBackend, handle: JobHandle, want: (s: JobStatus) => boolean, what: string): Promise<JobStatus> {
    let status = await backend.poll(handle);
    await waitFor(async () => want((status = await backend.poll(handle))), `job ${handle.name} ${what}`, waitMs);
    return status;
  }

  const running = (s: JobStatus) => s.state === 'running';

  describe(`cluster JobBackend contract: ${name}`, () => {
    afterEach(async () => {
      for (const { backend, handle } of launched.splice(0)) {
        if (isLive(await backend.poll(handle).catch(() => ({ state: 'lost' }) as JobStatus))) await backend.cancel(handle).catch(() => undefined);
      }
    });
    afterAll(() => dirs.removeAll());

    it('attach finds a live launch from another worker and follows it: one submission in the engine', async () => {
      const { backend, spec, stateDir } = await setup();
      const job = spec(LONG);
      expect(backend.attach).toBeTypeOf('function');
      expect(await backend.attach!(job.name)).toBeNull();
      const handle = await launch(backend, job);
      await untilState(backend, handle, running, 'to run');

      const restarted = await makeBackend(stateDir);
      const found = await restarted.attach!(job.name);
      expect(found).toMatchObject({ name: job.name, id: handle.id, logPath: handle.logPath, outputDir: handle.outputDir });
      expect(await restarted.poll(found!)).toMatchObject({ state: 'running' });
      await waitFor(async () => (await restarted.events(found!)).some((e) => e.type === 'progress'), 'progress through the attached handle', waitMs);
      expect(await opts.engine.submissions(job.name)).toEqual([handle.id]);

      await restarted.cancel(found!);
      expect(await restarted.attach!(job.name)).toBeNull(); // a finished job is not attached to
      expect(await opts.engine.submissions(job.name)).toEqual([handle.id]);
    });

    it("waits pending with the engine's reason while the only slot is busy, then runs", async () => {
      const { backend, spec } = await setup();
      const first = await launch(backend, spec(LONG, { resources: opts.slot }));
      await untilState(backend, first, running, 'to run');
      const second = await launch(backend, spec(['--steps', '3', '--step-ms', '5'], { resources: opts.slot, timeLimitSeconds: 600 }));
      const waiting = await untilState(backend, second, (s) => s.state === 'pending' && !!s.reason, "to wait pending with the engine's reason");
      expect(waiting).toMatchObject({ state: 'pending', exitCode: null, signal: null, reason: expect.any(String) as unknown });
      expect(await backend.events(second)).toEqual([]);
      // Still waiting while the slot stays busy.
      expect(await backend.poll(second)).toMatchObject({ state: 'pending' });
      await backend.cancel(first);
      expect(await untilState(backend, second, (s) => !isLive(s), 'to run once the slot is free')).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
    });

    it('refuses a request the cluster can never satisfy at launch, with JobUnsatisfiable', async () => {
      const { backend, spec } = await setup();
      const job = spec(['--steps', '1'], { resources: opts.unsatisfiable });
      const err: unknown = await backend.launch(job).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(JobUnsatisfiable);
      expect((err as JobUnsatisfiable).permanent).toBe(true);
      expect((err as Error).message).toContain(job.name);
      expect(await backend.attach!(job.name)).toBeNull();
    });

    it("cancel leaves the job in the engine's cancelled state, running or pending", async () => {
      const { backend, spec } = await setup();
      const runningJob = await launch(backend, spec(LONG, { resources: opts.slot }));
      await untilState(backend, runningJob, running, 'to run');
      const pendingJob = await launch(backend, spec(LONG, { resources: opts.slot }));
      await untilState(backend, pendingJob, (s) => s.state === 'pending', 'to wait');
      await backend.cancel(pendingJob);
      await backend.cancel(runningJob);
      for (const h of [runningJob, pendingJob]) {
        expect(await backend.poll(h)).toMatchObject({ state: 'cancelled' });
        expect(await opts.engine.state(h.id)).toBe(opts.engine.cancelledState);
      }
    });

    it('a job that exits non-zero fails with its exit code and log tail', async () => {
      const { backend, spec } = await setup();
      const handle = await launch(backend, spec(['--steps', '5', '--step-ms', '5', '--fail-at', '3']));
      expect(await untilState(backend, handle, (s) => !isLive(s), 'to end')).toMatchObject({ state: 'failed', exitCode: 3 });
      expect(await backend.logs(handle, { tailLines: 5 })).toContain('counting-job: failing at step 3 as asked');
      // A file on this host, or where the engine serves it (Ray's Jobs API keeps logs on the cluster).
      expect(path.isAbsolute(handle.logPath) || /^https?:\/\//.test(handle.logPath)).toBe(true);
    });
  });
}
