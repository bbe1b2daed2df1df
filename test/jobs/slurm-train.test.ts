// The tiny-llm example trained through `trainModel` on a real single-node Slurm cluster (started
// here): the job is an sbatch job, Slurm's own list (squeue) shows each submission, and a retry whose
// job is gone submits it again, resuming from the last checkpoint; a retry whose job completed while no
// worker watched collects it. MockActivityEnvironment is a test double of the activity context only.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmJobBackend } from '../../src/activities/jobs/slurm.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainHeartbeat, TrainInput } from '../../src/activities/jobs/types.js';
import { startSlurmCluster, type RunningSlurm } from '../../src/stack/slurm.js';
import { REPO_ROOT } from '../contracts/support.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity, tempDir, waitFor } from './support.js';

let cluster: RunningSlurm;
beforeAll(async () => {
  cluster = await startSlurmCluster({ stateDir: tempDir('slipway-slurm-train-cluster-') });
});
afterAll(async () => {
  await cluster?.stop();
  removeTempDirs();
});

/** Slurm's own record of a job name's submissions: state of each, oldest first. */
const submissions = (name: string) =>
  execFileSync('squeue', ['-h', '-t', 'all', `--name=${name}`, '-o', '%i|%T'], { env: { ...process.env, SLURM_CONF: cluster.conf }, encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(Boolean)
    .sort((a, b) => Number(a.split('|')[0]) - Number(b.split('|')[0]))
    .map((l) => l.split('|')[1]);

describe('trainModel on Slurm, reattaching', () => {
  it('a retry whose job completed while no worker watched collects its artifact: no second submission', async () => {
    const stateDir = tempDir('slipway-slurm-collect-');
    const slurm = new SlurmJobBackend({ stateDir, slurmConf: cluster.conf });
    const deps = { ...localJobDeps(stateDir), backends: { slurm }, pollIntervalMs: 200 };
    const job = fixtureInput(stateDir, { backend: 'slurm', params: { steps: 5, 'step-ms': 5 } });
    // The first attempt submitted the job, then its worker died; the job finished on its own.
    const first = await slurm.launch({ name: job.jobName, command: [...job.command, '--steps', '5', '--step-ms', '5'], cwd: job.cwd, env: {} });
    await waitFor(async () => (await slurm.poll(first)).state === 'succeeded', 'the unwatched job to complete', 60_000);
    const { env, logs } = activityEnv({ attempt: 2, heartbeatDetails: { step: 1, loss: 1, checkpoint: null, checkpointStep: null, checkpointRef: null } });
    const result = await runActivity(env, createJobActivities(deps).trainModel, job);
    expect(logs.map((l) => l.message)).toContain('training job still on the cluster: following it');
    expect(result.artifactPath).toBe(path.join(first.outputDir, 'model.json'));
    expect(result.finalStep).toBe(5);
    expect(submissions(job.jobName)).toEqual(['COMPLETED']);
  });
});

describe('tiny-llm trained on Slurm', () => {
  it('trains through sbatch; a retry whose job is gone resubmits it, resuming from the last checkpoint', async () => {
    const stateDir = tempDir('slipway-slurm-train-');
    const deps = { ...localJobDeps(stateDir), backends: { slurm: new SlurmJobBackend({ stateDir, slurmConf: cluster.conf }) }, pollIntervalMs: 200 };
    const input: TrainInput = {
      jobName: `tiny-${process.pid}`,
      backend: 'slurm',
      command: ['{python}', 'train.py'],
      cwd: path.join(REPO_ROOT, 'examples', 'tiny-llm'),
      env: { SLIPWAY_TORCH_THREADS: '1' },
      data: [],
      params: { steps: 30, 'checkpoint-every': 10, 'batch-size': 16 },
      codeVersion: 'test',
      useCache: false,
    };
    const first = activityEnv();
    const result = await runActivity(first.env, createJobActivities(deps).trainModel, input);
    expect(result.finalStep).toBe(30);
    expect(result.artifactDigest).toBe(result.artifact.sha256);
    expect(submissions(input.jobName)).toEqual(['COMPLETED']);

    const last = (first.heartbeats as TrainHeartbeat[]).filter((h) => h.checkpoint !== null).at(-1)!;
    expect(last.checkpointStep).toBeGreaterThanOrEqual(10);
    // A retry whose job is gone: a fresh job name, so Slurm has no launch of it to collect (a completed
    // one would be collected, see above) and only the heartbeated checkpoint can bring the run back.
    const gone = { ...input, jobName: `${input.jobName}-gone` };
    const retry = activityEnv({ attempt: 2, heartbeatDetails: last });
    const resumed = await runActivity(retry.env, createJobActivities(deps).trainModel, gone);
    expect(resumed.resumedFromStep).toBe(last.checkpointStep);
    expect(resumed.finalStep).toBe(30);
    expect(submissions(gone.jobName)).toEqual(['COMPLETED']);
    expect(submissions(input.jobName)).toEqual(['COMPLETED']);
  }, 300_000);
});
