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

const pipelineInput = () => ({
  experimentName: unique('slipway-tracking'),
  pipelineName: 'tiny-llm',
  workflowId: unique('pipeline-tiny-llm'),
  runId: '3f2a9c1e-0000-4000-8000-000000000001',
  specParams: { 'train.epochs': '3', 'gates.min_accuracy': '0.85' },
  codeVersion: 'abc1234',
  specJson: JSON.stringify({ name: 'tiny-llm', train: { epochs: 3 } }),
});

describe('MLflow tracking activities', () => {
  it('a retried mlflowStartPipelineRun finds its run instead of opening a second one', async () => {
    const input = pipelineInput();
    const first = await runActivity(acts.mlflowStartPipelineRun, input);
    const retried = await runActivity(acts.mlflowStartPipelineRun, input);
    expect(retried).toEqual(first);
    const runs = await client.searchRuns({ experimentIds: [first.experimentId] });
    expect(runs).toHaveLength(1);

    const run = await client.getRun(first.mlflowRunId);
    expect(run.data.tags).toMatchObject({
      'slipway.workflow_id': input.workflowId,
      'slipway.run_id': input.runId,
      'slipway.pipeline': 'tiny-llm',
      'mlflow.source.git.commit': 'abc1234',
    });
    expect(run.data.params).toEqual(input.specParams);
    expect((await client.downloadArtifact(first.mlflowRunId, 'spec.json')).toString()).toBe(input.specJson);
  });

  it('child runs nest under the pipeline run, one per key, as the Python client sees them', async () => {
    const parent = await runActivity(acts.mlflowStartPipelineRun, pipelineInput());
    const child = { experimentId: parent.experimentId, parentRunId: parent.mlflowRunId, name: 'evaluate q4', key: 'evaluate/q4', tags: { variant: 'q4' }, params: { quant: 'q4' } };
    const a = await runActivity(acts.mlflowStartChildRun, child);
    const b = await runActivity(acts.mlflowStartChildRun, child);
    const other = await runActivity(acts.mlflowStartChildRun, { ...child, key: 'evaluate/fp16', name: 'evaluate fp16', tags: { variant: 'fp16' }, params: { quant: 'fp16' } });
    expect(b).toEqual(a);
    expect(other.mlflowRunId).not.toBe(a.mlflowRunId);

    const seen = (await pythonMlflow(
      inject('mlflowUrl'),
      `runs = client.search_runs([args[0]], f"tags.mlflow.parentRunId = '{args[1]}'")
out = sorted([{'name': r.info.run_name, 'variant': r.data.tags.get('variant'), 'quant': r.data.params.get('quant')} for r in runs], key=lambda r: r['name'])`,
      [parent.experimentId, parent.mlflowRunId],
    )) as unknown[];
    expect(seen).toEqual([
      { name: 'evaluate fp16', variant: 'fp16', quant: 'fp16' },
      { name: 'evaluate q4', variant: 'q4', quant: 'q4' },
    ]);
  });

  it('a retried metric batch does not double-log (checked with metrics/get-history)', async () => {
    const { mlflowRunId } = await runActivity(acts.mlflowStartPipelineRun, pipelineInput());
    const t0 = 1_700_000_000_000;
    const metrics = Array.from({ length: 1200 }, (_, i) => ({ key: i % 2 ? 'loss' : 'accuracy', value: 0.5 + i / 10_000, step: i, timestamp: t0 + i }));
    await runActivity(acts.mlflowLogMetrics, { mlflowRunId, metrics });
    // The retry of an attempt whose response was lost: the same rows again.
    await runActivity(acts.mlflowLogMetrics, { mlflowRunId, metrics });
    const loss = await client.getMetricHistory(mlflowRunId, 'loss');
    const accuracy = await client.getMetricHistory(mlflowRunId, 'accuracy');
    expect(loss).toHaveLength(600);
    expect(accuracy).toHaveLength(600);
    expect(loss.find((m) => m.step === 1)).toEqual({ key: 'loss', value: 0.5001, step: 1, timestamp: t0 + 1 });
  });

  it('tags, text and files land on the run; ending twice keeps the first end time', async () => {
    const { mlflowRunId } = await runActivity(acts.mlflowStartPipelineRun, pipelineInput());
    await runActivity(acts.mlflowSetTags, { mlflowRunId, tags: { 'slipway.stage': 'gate', 'slipway.approved_by': 'alice' } });
    await runActivity(acts.mlflowLogText, { mlflowRunId, artifactPath: 'gate/report.md', text: '✅ accuracy 0.91 ≥ 0.85' });
    await withTempFile('eval.jsonl', '{"q":"1+1","a":"2"}\n', (localPath) =>
      runActivity(acts.mlflowLogFile, { mlflowRunId, artifactPath: 'eval/outputs.jsonl', localPath }),
    );
    await runActivity(acts.mlflowEndRun, { mlflowRunId, status: 'FINISHED' });
    const ended = await client.getRun(mlflowRunId);
    await runActivity(acts.mlflowEndRun, { mlflowRunId, status: 'FINISHED' });
    const again = await client.getRun(mlflowRunId);

    expect(again.info.status).toBe('FINISHED');
    expect(again.info.end_time).toBe(ended.info.end_time);
    expect(again.data.tags).toMatchObject({ 'slipway.stage': 'gate', 'slipway.approved_by': 'alice' });
    const files = (await pythonMlflow(inject('mlflowUrl'), 'out = sorted(f.path for f in client.list_artifacts(args[0], "gate") + client.list_artifacts(args[0], "eval"))', [mlflowRunId])) as string[];
    expect(files).toEqual(['eval/outputs.jsonl', 'gate/report.md']);
    expect((await client.downloadArtifact(mlflowRunId, 'gate/report.md')).toString('utf8')).toBe('✅ accuracy 0.91 ≥ 0.85');
  });
});
