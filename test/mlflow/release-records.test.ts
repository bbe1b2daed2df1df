// The batched release activities against a real MLflow: one release's bookkeeping done once with
// the single-purpose activities (as runs recorded before 'batched-mlflow' do it) and once batched
// must leave the same runs, tags, params, metrics, artifacts, model version and aliases, as
// MLflow's own Python client reads them. Retries of each batched activity change nothing.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient } from '../../src/activities/mlflow/client.js';
import { createMlflowActivities, type MlflowActivities } from '../../src/activities/mlflow/tracking.js';
import { pythonMlflow, runActivity, unique, withTempFile } from './support.js';

let acts: MlflowActivities;
let client: MlflowClient;
beforeAll(() => {
  acts = createMlflowActivities({ config: { trackingUri: inject('mlflowUrl') } });
  client = new MlflowClient({ trackingUri: inject('mlflowUrl') });
});

const T0 = 1_700_000_000_000;
const release = (experimentName: string) => ({
  experimentName,
  pipelineName: 'tiny-llm',
  workflowId: `release:tiny-llm:${experimentName}`,
  runId: '3f2a9c1e-0000-4000-8000-000000000001',
  specParams: { release: 'r1', 'train.steps': '20' },
  codeVersion: 'abc1234',
  specJson: '{"name":"tiny-llm"}',
});
const child = (experimentId: string, parentRunId: string, workflowId: string) => ({
  experimentId,
  parentRunId,
  name: 'candidate-default',
  key: `${workflowId}/candidate/default`,
  params: { steps: '20', lr: '0.001' },
  tags: { 'slipway.variant': 'default', 'slipway.started_at': '2026-11-26T09:00:00.000Z' },
});
const trainLoss = [0.9, 0.5, 0.3].map((value, i) => ({ key: 'train_loss', value, step: i + 1, timestamp: T0 + 1 }));
const evalMetrics = [{ key: 'eval_accuracy', value: 1, step: 0, timestamp: T0 + 2 }, { key: 'eval_latency_p99_ms', value: 12.5, step: 0, timestamp: T0 + 2 }];
const endTags = { 'slipway.artifact_digest': 'd'.repeat(64), 'slipway.gate': 'passed', 'slipway.eval_results': '/tmp/results.jsonl' };
const champion = [{ key: 'accuracy', value: 1, step: 0, timestamp: T0 + 3 }];
const gateReport = { artifactPath: 'gate-report.txt', text: '✅ accuracy 1 >= 0.85' };

/** Everything the Python client sees of one release's bookkeeping, with the ids that must differ left out. */
async function outcome(experimentName: string, modelName: string) {
  return pythonMlflow(
    inject('mlflowUrl'),
    `
exp = client.get_experiment_by_name(args[0])
runs = client.search_runs([exp.experiment_id])
parent = [r for r in runs if 'mlflow.parentRunId' not in r.data.tags][0]
child = [r for r in runs if r.data.tags.get('mlflow.parentRunId') == parent.info.run_id][0]
skip = ('slipway.workflow_id', 'slipway.key', 'mlflow.parentRunId', 'mlflow.runName', 'mlflow.user')
tags = lambda r: {k: v for k, v in r.data.tags.items() if k not in skip}
history = lambda r, k: [(m.step, m.value, m.timestamp) for m in client.get_metric_history(r.info.run_id, k)]
versions = client.search_model_versions("name='%s'" % args[1])
mv = client.get_model_version_by_alias(args[1], 'champion')
out = {
  'runs': len(runs),
  'parent': {'status': parent.info.status, 'ended': parent.info.end_time is not None, 'tags': tags(parent), 'params': parent.data.params, 'metrics': parent.data.metrics,
             'artifacts': sorted(a.path for a in client.list_artifacts(parent.info.run_id)),
             'model': [a.path for a in client.list_artifacts(parent.info.run_id, 'model')],
             'gate': open(client.download_artifacts(parent.info.run_id, 'gate-report.txt')).read()},
  'child': {'name': child.info.run_name, 'status': child.info.status, 'tags': tags(child), 'params': child.data.params,
            'train_loss': history(child, 'train_loss'), 'eval_accuracy': history(child, 'eval_accuracy'), 'eval_latency_p99_ms': history(child, 'eval_latency_p99_ms')},
  'versions': len(versions),
  'champion': {'source': mv.source.replace(parent.info.run_id, 'RUN'), 'runIsParent': mv.run_id == parent.info.run_id, 'tags': {k: v for k, v in mv.tags.items() if k != 'slipway.workflow_id'}},
}`,
    [experimentName, modelName],
  );
}

describe('batched release records', () => {
  it('leave the same MLflow outcome as the single-purpose activities, and a retry of each changes nothing', async () => {
    const [single, batched] = [unique('records-single'), unique('records-batched')];
    const [singleModel, batchedModel] = [`${single}-model`, `${batched}-model`];
    await withTempFile('model.bin', 'weights', async (modelFile) => {
      // As runs recorded before 'batched-mlflow' do it: fourteen calls.
      const s = release(single);
      const opened = await runActivity(acts.mlflowStartPipelineRun, s);
      expect(await runActivity(acts.mlflowGetChampion, { modelName: singleModel })).toBeNull();
      const { mlflowRunId: childId } = await runActivity(acts.mlflowStartChildRun, child(opened.experimentId, opened.mlflowRunId, s.workflowId));
      await runActivity(acts.mlflowLogMetrics, { mlflowRunId: childId, metrics: trainLoss });
      await runActivity(acts.mlflowLogMetrics, { mlflowRunId: childId, metrics: evalMetrics });
      await runActivity(acts.mlflowSetTags, { mlflowRunId: childId, tags: endTags });
      await runActivity(acts.mlflowEndRun, { mlflowRunId: childId, status: 'FINISHED' });
      await runActivity(acts.mlflowLogText, { mlflowRunId: opened.mlflowRunId, ...gateReport });
      await runActivity(acts.mlflowLogMetrics, { mlflowRunId: opened.mlflowRunId, metrics: champion });
      await runActivity(acts.mlflowLogFile, { mlflowRunId: opened.mlflowRunId, artifactPath: 'model/model.bin', localPath: modelFile });
      const { version } = await runActivity(acts.mlflowRegisterModelVersion, { modelName: singleModel, source: `runs:/${opened.mlflowRunId}/model`, mlflowRunId: opened.mlflowRunId, workflowId: s.workflowId });
      await runActivity(acts.mlflowPromote, { modelName: singleModel, version });
      await runActivity(acts.mlflowSetTags, { mlflowRunId: opened.mlflowRunId, tags: { 'slipway.outcome': 'completed' } });
      await runActivity(acts.mlflowEndRun, { mlflowRunId: opened.mlflowRunId, status: 'FINISHED' });

      // Batched: five calls, each run twice as a retry after a lost response would.
      const b = release(batched);
      const twice = async <P, R>(fn: (input: P) => Promise<R>, input: P): Promise<R> => {
        const first = await runActivity(fn, input);
        expect(await runActivity(fn, input)).toEqual(first);
        return first;
      };
      const open = await twice(acts.mlflowOpenRelease, { ...b, modelName: batchedModel });
      expect(open.champion).toBeNull();
      const recorded = await twice(acts.mlflowRecordCandidate, { ...child(open.experimentId, open.mlflowRunId, b.workflowId), endTags, metrics: [...trainLoss, ...evalMetrics], status: 'FINISHED' });
      const childEnd = (await client.getRun(recorded.mlflowRunId)).info.end_time;
      await twice(acts.mlflowRecordRun, { mlflowRunId: open.mlflowRunId, texts: [gateReport], metrics: champion });
      const registered = await twice(acts.mlflowRegisterRelease, { mlflowRunId: open.mlflowRunId, modelName: batchedModel, workflowId: b.workflowId, artifactPath: 'model/model.bin', localPath: modelFile });
      expect(registered).toEqual({ modelVersion: '1', previousChampion: null });
      await runActivity(acts.mlflowRecordRun, { mlflowRunId: open.mlflowRunId, tags: { 'slipway.outcome': 'completed' }, end: 'FINISHED' });
      const parentEnd = (await client.getRun(open.mlflowRunId)).info.end_time;
      await runActivity(acts.mlflowRecordRun, { mlflowRunId: open.mlflowRunId, tags: { 'slipway.outcome': 'completed' }, end: 'FINISHED' });
      // A retry keeps the first end times.
      expect((await client.getRun(open.mlflowRunId)).info.end_time).toBe(parentEnd);
      expect((await client.getRun(recorded.mlflowRunId)).info.end_time).toBe(childEnd);

      const [was, now] = [await outcome(single, singleModel), await outcome(batched, batchedModel)];
      expect(now).toEqual(was);
      expect(now).toMatchObject({
        runs: 2,
        versions: 1,
        parent: { status: 'FINISHED', ended: true, artifacts: ['gate-report.txt', 'model', 'spec.json'], model: ['model/model.bin'], gate: gateReport.text, metrics: { accuracy: 1 } },
        child: { status: 'FINISHED', train_loss: trainLoss.map((m) => [m.step, m.value, m.timestamp]) },
        champion: { source: 'runs:/RUN/model', runIsParent: true },
      });

      // The next release's open reads this one as champion, with its metrics.
      const next = await runActivity(acts.mlflowOpenRelease, { ...release(batched), runId: '3f2a9c1e-0000-4000-8000-000000000002', modelName: batchedModel });
      expect(next.champion).toMatchObject({ version: '1', mlflowRunId: open.mlflowRunId, metrics: { accuracy: 1 } });
    });
  });

  it('record a failed candidate as a FAILED child run with what it had', async () => {
    const b = release(unique('records-failed'));
    const open = await runActivity(acts.mlflowOpenRelease, { ...b, modelName: `${b.experimentName}-model` });
    const { mlflowRunId } = await runActivity(acts.mlflowRecordCandidate, { ...child(open.experimentId, open.mlflowRunId, b.workflowId), endTags: {}, metrics: trainLoss, status: 'FAILED' });
    const run = await client.getRun(mlflowRunId);
    expect(run.info.status).toBe('FAILED');
    expect(run.data.tags).toMatchObject({ 'slipway.variant': 'default', 'mlflow.parentRunId': open.mlflowRunId });
    expect((await client.getMetricHistory(mlflowRunId, 'train_loss')).map((m) => m.value)).toEqual([0.9, 0.5, 0.3]);
  });
});
