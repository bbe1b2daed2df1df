// trainModel on a real single-node Ray head (the run's shared one; a job asking for all its CPUs takes its only slot), in
// the SDK's MockActivityEnvironment (a test double of the activity context): a retry follows the job
// its crashed attempt left instead of submitting again; a wait past queue_timeout and a request the
// cluster can never satisfy come back as typed failures; the Python helper stores a job's files
// in the MLflow artifact store and a retry resumes from the checkpoint's URI. (Queue time not eating run time, and a
// failing job's exit code, are checked end to end in test/integration/ray-release.test.ts.)
import { ApplicationFailure } from '@temporalio/common';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { RayJobBackend } from '../../src/activities/jobs/ray.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainHeartbeat, TrainInput } from '../../src/activities/jobs/types.js';
import { MlflowArtifactStore } from '../../src/activities/artifacts/mlflow.js';
import { REPO_ROOT } from '../contracts/support.js';
import { RAY_CPUS, useRayHead } from '../support/ray.js';
import { copyDataJob, dvcProject, pullWitness } from './dvc-project.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity, tempDir, waitFor } from './support.js';

const rayAddress = useRayHead();
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
    writeFileSync(checkpoint, JSON.stringify({ step: 8 }));
    const { env } = activityEnv({ attempt: 2, heartbeatDetails: { step: 9, loss: 1, checkpoint, checkpointStep: 8, checkpointRef: null } });
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(result.resumedFromStep).toBe(8);
    expect(await submissions(ray, job.jobName)).toHaveLength(1);
  });

  it('a wait in the queue longer than queue_timeout fails, non-retryable, and the job is stopped', async () => {
    const { ray, deps, input } = setup();
    const blocker = await ray.launch({ name: `blocker-${Date.now()}`, command: ['sleep', '600'], cwd: '/', env: {}, resources: { cpus: RAY_CPUS } });
    launched.push({ ray, id: blocker.id });
    await waitFor(async () => (await ray.poll(blocker)).state === 'running', 'the blocker to run', 60_000);
    const job = input({ resources: { cpus: RAY_CPUS }, queueTimeoutMs: 2_000 });
    const { env } = activityEnv();
    const err = await runActivity(env, createJobActivities(deps).trainModel, job).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'TrainingQueueTimeout', nonRetryable: true });
    // Ray drops a queued job only when it is scheduled: free the slot, and the stop it was sent ends it.
    await ray.cancel(blocker);
    await waitFor(async () => (await submissions(ray, job.jobName)).every((s) => s.status !== 'PENDING' && s.status !== 'RUNNING'), 'the queued job to end', 60_000);
    expect((await submissions(ray, job.jobName)).map((s) => s.status)).toEqual(['STOPPED']);
  });

  it('DVC-tracked inputs are pulled inside the Ray job, on its node: the job\'s log in Ray shows the pull in the job\'s own process', async () => {
    const { ray, deps } = setup();
    const { dir } = dvcProject();
    // Only the DVC remote has the bytes; the worker pulls nothing (it would need DVC's cache or the file).
    rmSync(path.join(dir, 'data.bin'));
    rmSync(path.join(dir, '.dvc', 'cache'), { recursive: true, force: true });
    const job = fixtureInput(dir, { backend: 'ray', command: copyDataJob, params: {}, data: ['data.bin'] });
    const { env } = activityEnv();
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(readFileSync(result.artifactPath, 'utf8')).toBe('first version of the data\n');
    const [sub] = await submissions(ray, job.jobName);
    const { pulled, jobPid } = pullWitness(await ray.client.logs(sub!.submission_id));
    expect(pulled).toMatchObject({ targets: ['data.bin.dvc'], cwd: dir });
    expect(pulled?.pid).toBe(jobPid);
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
});

// The tiny-llm example storing its files through the Python job helper in MLflow's proxied artifact
// store (the global setup's real MLflow): the worker reads nothing from the job's disk.
const example = path.join(REPO_ROOT, 'examples', 'tiny-llm');

describe('the Python job helper on Ray, with the MLflow artifact store', () => {
  it('stores checkpoints and the model from the job; a retry resumes from the checkpoint URI', async () => {
    const stateDir = tempDir('slipway-ray-helper-');
    const outputRoot = path.join(stateDir, 'ray-jobs');
    const ray = new RayJobBackend({ address: rayAddress(), outputRoot });
    const artifacts = new MlflowArtifactStore({ config: { trackingUri: inject('mlflowUrl') }, cacheDir: path.join(stateDir, 'cache') });
    const deps = { stateDir, backends: { ray }, artifacts, pollIntervalMs: 200 };
    const input: TrainInput = {
      jobName: `helper-${Date.now()}`,
      backend: 'ray',
      command: ['{python}', 'train.py'],
      cwd: example,
      env: { SLIPWAY_TORCH_THREADS: '1' },
      data: [],
      params: { steps: 30, 'checkpoint-every': 10, 'batch-size': 16 },
      codeVersion: 'test',
      useCache: false,
    };
    const first = activityEnv();
    const result = await runActivity(first.env, createJobActivities(deps).trainModel, input);
    expect(result.artifact.uri).toBe(`mlflow-artifacts:/slipway/${input.jobName}/model.pt`);
    expect(result.artifactDigest).toBe(result.artifact.sha256);
    // What the worker holds is its own verified download, not a file of the job's.
    expect(result.artifactPath.startsWith(path.join(stateDir, 'cache'))).toBe(true);
    const beats = first.heartbeats as TrainHeartbeat[];
    const ckpt = beats.map((h) => h.checkpointRef).find((r) => r !== null);
    expect(ckpt?.uri).toMatch(new RegExp(`^mlflow-artifacts:/slipway/${input.jobName}/checkpoints/ckpt-0000[12]0\\.pt$`));

    // A retry whose job is gone (a fresh job name: Ray has no launch of it to collect), with the job's
    // own disk wiped, so only the checkpoint's URI can bring the run back.
    rmSync(outputRoot, { recursive: true, force: true });
    const last = beats.filter((h) => h.checkpoint?.startsWith('mlflow-artifacts:/')).at(-1)!;
    const retry = activityEnv({ attempt: 2, heartbeatDetails: last });
    const resumed = await runActivity(retry.env, createJobActivities(deps).trainModel, { ...input, jobName: `${input.jobName}-gone` });
    expect(resumed.resumedFromStep).toBe(last.checkpointStep);
    expect(existsSync(resumed.artifactPath)).toBe(true);
  });
});
