// The tiny-llm example on a real Ray head, storing its files through the Python job helper in
// MLflow's proxied artifact store (the global setup's real MLflow): the worker reads nothing from
// the job's disk. Its result is the job's own upload, verified by digest; a retry hands the job the
// checkpoint's URI, which the helper fetches to resume. MockActivityEnvironment is a test double of
// the activity context only.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MlflowArtifactStore } from '../../src/activities/artifacts/mlflow.js';
import { RayJobBackend } from '../../src/activities/jobs/ray.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainHeartbeat, TrainInput } from '../../src/activities/jobs/types.js';
import { REPO_ROOT } from '../contracts/support.js';
import { useRayHead } from '../support/ray.js';
import { activityEnv, removeTempDirs, runActivity, tempDir } from './support.js';

const rayAddress = useRayHead({ cpus: 2 });
const example = path.join(REPO_ROOT, 'examples', 'tiny-llm');
afterAll(removeTempDirs);

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

    // A retry whose job is gone: the job's own disk is wiped, so only the URI can bring it back.
    rmSync(outputRoot, { recursive: true, force: true });
    const last = beats.filter((h) => h.checkpoint?.startsWith('mlflow-artifacts:/')).at(-1)!;
    const retry = activityEnv({ attempt: 2, heartbeatDetails: last });
    const resumed = await runActivity(retry.env, createJobActivities(deps).trainModel, input);
    expect(resumed.resumedFromStep).toBe(last.checkpointStep);
    expect(existsSync(resumed.artifactPath)).toBe(true);
  });
});
