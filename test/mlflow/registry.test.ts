import { beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient } from '../../src/activities/mlflow/client.js';
import { createMlflowActivities, type MlflowActivities } from '../../src/activities/mlflow/tracking.js';
import { activityLogs, failureOf, pythonMlflow, runActivity, unique } from './support.js';

let acts: MlflowActivities;
let client: MlflowClient;
let experimentId: string;
beforeAll(async () => {
  acts = createMlflowActivities({ config: { trackingUri: inject('mlflowUrl') } });
  client = new MlflowClient({ trackingUri: inject('mlflowUrl') });
  experimentId = await client.getOrCreateExperiment(unique('slipway-registry'));
});

async function trainedRun(accuracy: number): Promise<string> {
  const run = await client.createRun({ experimentId, runName: `train-${accuracy}` });
  const t = Date.now();
  await client.logBatch(run.info.run_id, {
    metrics: [
      { key: 'accuracy', value: accuracy - 0.05, step: 0, timestamp: t },
      { key: 'accuracy', value: accuracy, step: 1, timestamp: t + 1 },
      { key: 'latency_p99_ms', value: 120, step: 1, timestamp: t + 1 },
    ],
  });
  return run.info.run_id;
}

/** What MLflow's own Python client says about the model: champion, its run and tags, all aliases. */
async function viewFromPython(modelName: string) {
  return (await pythonMlflow(
    inject('mlflowUrl'),
    `mv = client.get_model_version_by_alias(args[0], 'champion')
out = {'champion': mv.version, 'run_id': mv.run_id, 'tags': mv.tags, 'aliases': client.get_registered_model(args[0]).aliases}`,
    [modelName],
  )) as { champion: string; run_id: string; tags: Record<string, string>; aliases: Record<string, string> };
}

describe('MLflow model registry activities', () => {
  it('registers a version linked to its run; a retried or crashed-then-retried call makes no second version', async () => {
    const modelName = unique('tiny-llm');
    const runId = await trainedRun(0.9);
    const input = { modelName, source: `runs:/${runId}/model`, mlflowRunId: runId, workflowId: 'pipeline-wf-1' };
    const first = await runActivity(acts.mlflowRegisterModelVersion, input);
    expect(await runActivity(acts.mlflowRegisterModelVersion, input)).toEqual(first);
    const mv = await client.getModelVersion(modelName, first.version);
    expect(mv).toMatchObject({ run_id: runId, status: 'READY', source: `runs:/${runId}/model` });
    expect(mv.tags['slipway.workflow_id']).toBe('pipeline-wf-1');

    // A first attempt that reached MLflow but whose answer was lost: the version exists already.
    const runId2 = await trainedRun(0.92);
    const direct = await client.createModelVersion({ name: modelName, source: `runs:/${runId2}/model`, runId: runId2 });
    const afterCrash = await runActivity(acts.mlflowRegisterModelVersion, { ...input, source: `runs:/${runId2}/model`, mlflowRunId: runId2 });
    expect(afterCrash.version).toBe(direct.version);
    expect(await client.searchModelVersions(`name='${modelName}'`)).toHaveLength(2);
  });

  it('promotes, remembers the previous champion, moves challenger off, and rolls back (also seen from Python)', async () => {
    const modelName = unique('tiny-llm');
    const run1 = await trainedRun(0.88);
    const run2 = await trainedRun(0.93);
    const register = (runId: string) =>
      runActivity(acts.mlflowRegisterModelVersion, { modelName, source: `runs:/${runId}/model`, mlflowRunId: runId, workflowId: 'wf' });
    const { version: v1 } = await register(run1);
    expect(await runActivity(acts.mlflowGetChampion, { modelName })).toBeNull();
    expect(await runActivity(acts.mlflowPromote, { modelName, version: v1 })).toEqual({ previousChampion: null });

    const { version: v2 } = await register(run2);
    await client.setAlias(modelName, 'challenger', v2);
    expect(await runActivity(acts.mlflowPromote, { modelName, version: v2 })).toEqual({ previousChampion: v1 });
    // A retry after the alias moved still reports the same previous champion, and moves nothing.
    expect(await runActivity(acts.mlflowPromote, { modelName, version: v2 })).toEqual({ previousChampion: v1 });
    const promotions = activityLogs.filter((e) => e.message === 'MLflow champion promoted' && e.meta?.modelName === modelName);
    expect(promotions.map((e) => e.meta?.version)).toEqual([v1, v2]);

    const champion = await runActivity(acts.mlflowGetChampion, { modelName });
    expect(champion).toEqual({ version: v2, mlflowRunId: run2, metrics: { accuracy: 0.93, latency_p99_ms: 120 } });
    expect(await viewFromPython(modelName)).toEqual({
      champion: v2,
      run_id: run2,
      tags: { 'slipway.workflow_id': 'wf', 'slipway.previous_champion': v1 },
      aliases: { champion: v2 },
    });

    await runActivity(acts.mlflowRollback, { modelName, toVersion: v1 });
    await runActivity(acts.mlflowRollback, { modelName, toVersion: v1 });
    expect(await runActivity(acts.mlflowGetChampion, { modelName })).toMatchObject({ version: v1, mlflowRunId: run1, metrics: { accuracy: 0.88 } });
    expect(await viewFromPython(modelName)).toMatchObject({ champion: v1, run_id: run1, aliases: { champion: v1 } });
  });

  it('promoting or rolling back to a version that does not exist is a non-retryable MlflowError', async () => {
    const modelName = unique('tiny-llm');
    const runId = await trainedRun(0.9);
    await runActivity(acts.mlflowRegisterModelVersion, { modelName, source: `runs:/${runId}/model`, mlflowRunId: runId, workflowId: 'wf' });
    const calls = [() => runActivity(acts.mlflowPromote, { modelName, version: '99' }), () => runActivity(acts.mlflowRollback, { modelName, toVersion: '99' })];
    for (const call of calls) {
      const failure = await failureOf(call());
      expect(failure.type).toBe('MlflowError');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details).toEqual([{ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST', endpoint: 'GET model-versions/get' }]);
    }
  });
});
