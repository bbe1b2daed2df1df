// trainModel on a real single-node Ray head (one CPU, so one job at a time when jobs ask for it), in
// the SDK's MockActivityEnvironment (a test double of the activity context): a retry follows the job
// its crashed attempt left instead of submitting again; queue time does not count as run time;
// requests the cluster can never satisfy and failing jobs come back as typed failures.
import { ApplicationFailure } from '@temporalio/common';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RayJobBackend } from '../../src/activities/jobs/ray.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainHeartbeat, TrainInput } from '../../src/activities/jobs/types.js';
import { useRayHead } from '../support/ray.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity, tempDir, waitFor } from './support.js';

const rayAddress = useRayHead({ cpus: 1 });
const launched: Array<{ ray: RayJobBackend; id: string }> = [];

function setup() {
  const stateDir = tempDir('slipway-ray-train-');
  const ray = new RayJobBackend({ address: rayAddress(), outputRoot: path.join(stateDir, 'ray-jobs') });
  const deps = { ...localJobDeps(stateDir), backends: { ray }, pollIntervalMs: 200 };
  const input = (over: Partial<TrainInput> = {}) => fixtureInput(stateDir, { backend: 'ray', ...over });
  return { stateDir, ray, deps, input };
}

/** Ray's own job list: every submission of one job name. */
async function submissions(ray: RayJobBackend, name: string) {
  return (await ray.client.list()).filter((j) => j.metadata?.slipway_job === name);
}

afterEach(async () => {
  for (const { ray, id } of launched.splice(0)) await ray.cancel({ backend: 'ray', name: '', id, logPath: '', outputDir: '', startedAt: '' }).catch(() => undefined);
});
afterAll(removeTempDirs);

describe('trainModel on Ray', () => {
  it('a retry follows the job its crashed attempt left running: one submission, that job\'s artifact', async () => {
    const { ray, deps, input } = setup();
    const job = input({ params: { steps: 40, 'step-ms': 50, 'checkpoint-every': 10 } });
    // The first attempt submitted the job, then its worker died: the job runs on without it.
    const first = await ray.launch({ name: job.jobName, command: [...job.command, '--steps', '40', '--step-ms', '50', '--checkpoint-every', '10'], cwd: job.cwd, env: {} });
    launched.push({ ray, id: first.id });
    await waitFor(async () => (await ray.events(first)).some((e) => e.type === 'progress'), 'the first progress event', 60_000);

    const { env, logs } = activityEnv({ attempt: 2, heartbeatDetails: { step: 1, loss: 1, checkpoint: null, checkpointStep: null, checkpointRef: null } });
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(logs.map((l) => l.message)).toContain('training job still on the cluster: following it');
    const subs = await submissions(ray, job.jobName);
    expect(subs.map((s) => [s.submission_id, s.status])).toEqual([[first.id, 'SUCCEEDED']]);
    expect(result.artifactPath).toBe(path.join(first.outputDir, 'model.json'));
    expect(result.finalStep).toBe(40);
  });

  it('a retry whose job succeeded while no worker watched collects its artifact: no second submission', async () => {
    const { ray, deps, input } = setup();
    const job = input({ params: { steps: 5, 'step-ms': 5 } });
    const first = await ray.launch({ name: job.jobName, command: [...job.command, '--steps', '5', '--step-ms', '5'], cwd: job.cwd, env: {} });
    await waitFor(async () => (await ray.poll(first)).state === 'succeeded', 'the unwatched job to succeed', 60_000);
    const { env } = activityEnv({ attempt: 2, heartbeatDetails: { step: 1, loss: 1, checkpoint: null, checkpointStep: null, checkpointRef: null } });
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(result.artifactPath).toBe(path.join(first.outputDir, 'model.json'));
    expect((await submissions(ray, job.jobName)).map((s) => s.submission_id)).toEqual([first.id]);
  });

  it('a retry whose job is gone submits it again, resuming from the last checkpoint', async () => {
    const { ray, stateDir, deps, input } = setup();
    const job = input({ params: { steps: 12, 'step-ms': 5 } });
    const checkpoint = path.join(stateDir, 'ckpt.json');
    await import('node:fs').then((fs) => fs.writeFileSync(checkpoint, JSON.stringify({ step: 8 })));
    const { env } = activityEnv({ attempt: 2, heartbeatDetails: { step: 9, loss: 1, checkpoint, checkpointStep: 8, checkpointRef: null } });
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(result.resumedFromStep).toBe(8);
    expect(await submissions(ray, job.jobName)).toHaveLength(1);
  });

  it('waits pending with Ray\'s reason while the only slot is busy, without eating its run time', async () => {
    const { ray, deps, input } = setup();
    const blocker = await ray.launch({ name: `blocker-${Date.now()}`, command: ['sleep', '600'], cwd: '/', env: {}, resources: { cpus: 1 } });
    launched.push({ ray, id: blocker.id });
    await waitFor(async () => (await ray.poll(blocker)).state === 'running', 'the blocker to run', 60_000);

    // Its run time (8 s) is shorter than its wait in the queue (12 s): only run time counts against it.
    const job = input({ resources: { cpus: 1 }, queueTimeoutMs: 600_000, runTimeoutMs: 8_000, params: { steps: 3, 'step-ms': 5 } });
    const { env, heartbeats } = activityEnv();
    const training = runActivity(env, createJobActivities(deps).trainModel, job);
    await waitFor(() => heartbeats.some((h) => (h as TrainHeartbeat).job?.state === 'pending'), 'a pending heartbeat', 60_000);
    await sleep(12_000);
    await ray.cancel(blocker);
    const result = await training;
    expect(result.finalStep).toBe(3);
    const pending = heartbeats.map((h) => (h as TrainHeartbeat).job).find((j) => j?.state === 'pending');
    expect(pending?.reason).toMatch(/waiting for resources/);
  });

  it('a wait in the queue longer than queue_timeout fails, non-retryable, and the job is stopped', async () => {
    const { ray, deps, input } = setup();
    const blocker = await ray.launch({ name: `blocker-${Date.now()}`, command: ['sleep', '600'], cwd: '/', env: {}, resources: { cpus: 1 } });
    launched.push({ ray, id: blocker.id });
    await waitFor(async () => (await ray.poll(blocker)).state === 'running', 'the blocker to run', 60_000);
    const job = input({ resources: { cpus: 1 }, queueTimeoutMs: 2_000 });
    const { env } = activityEnv();
    const err = await runActivity(env, createJobActivities(deps).trainModel, job).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'TrainingQueueTimeout', nonRetryable: true });
    // Ray drops a queued job only when it is scheduled: free the slot, and the stop it was sent ends it.
    await ray.cancel(blocker);
    await waitFor(async () => (await submissions(ray, job.jobName)).every((s) => s.status !== 'PENDING' && s.status !== 'RUNNING'), 'the queued job to end', 60_000);
    expect((await submissions(ray, job.jobName)).map((s) => s.status)).toEqual(['STOPPED']);
  });

  it('more GPUs than any node has fails at once, typed and non-retryable, with nothing submitted', async () => {
    const { ray, deps, input } = setup();
    const job = input({ resources: { gpus: 4 } });
    const { env } = activityEnv();
    const err = await runActivity(env, createJobActivities(deps).trainModel, job).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ type: 'TrainingResourcesUnsatisfiable', nonRetryable: true });
    expect((err as Error).message).toContain('4 GPUs (the largest node has 0)');
    expect(await submissions(ray, job.jobName)).toEqual([]);
  });

  it('a job that exits non-zero fails with its exit code and log tail', async () => {
    const { deps, input } = setup();
    const { env } = activityEnv();
    const err = await runActivity(env, createJobActivities(deps).trainModel, input({ params: { steps: 5, 'step-ms': 5, 'fail-at': 2 } })).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ type: 'TrainingJobFailed' });
    const details = (err as ApplicationFailure).details?.[0] as { exitCode: number; logTail: string };
    expect(details.exitCode).toBe(3);
    expect(details.logTail).toContain('counting-job: failing at step 2 as asked');
  });
});
