// The tiny-llm example trained through `trainModel` on a real single-node Slurm cluster (started
// here): the job is an sbatch job, Slurm's own list (squeue) shows each submission, and a retry whose
// job is gone submits it again, resuming from the last checkpoint. MockActivityEnvironment is a test
// double of the activity context only.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmJobBackend } from '../../src/activities/jobs/slurm.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainHeartbeat, TrainInput } from '../../src/activities/jobs/types.js';
import { startSlurmCluster, type RunningSlurm } from '../../src/stack/slurm.js';
import { REPO_ROOT } from '../contracts/support.js';
import { activityEnv, localJobDeps, removeTempDirs, runActivity, tempDir } from './support.js';

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
    const retry = activityEnv({ attempt: 2, heartbeatDetails: last });
    const resumed = await runActivity(retry.env, createJobActivities(deps).trainModel, input);
    expect(resumed.resumedFromStep).toBe(last.checkpointStep);
    expect(resumed.finalStep).toBe(30);
    expect(submissions(input.jobName)).toEqual(['COMPLETED', 'COMPLETED']);
  }, 300_000);
});
