// The Web UI's details and activity summaries, from a release's status (pure functions).
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../src/quality/gate.js';
import { PipelineSpecSchema } from '../../src/spec/schema.js';
import { activitySummaries, formatDuration, releaseDetails } from '../../src/workflows/metadata.js';
import type { PipelineStatus } from '../../src/workflows/status.js';

const spec = PipelineSpecSchema.parse({
  name: 'tiny',
  model: { name: 'tiny-llm' },
  train: { command: ['python', 'train.py'] },
  serve: { command: ['python', 'serve.py'] },
  evaluate: { dataset: 'eval.jsonl' },
  gates: { max_regression_vs_champion: 0.05 },
  approval: { approvers: ['alice', 'bob'] },
});

function waiting(): PipelineStatus {
  const metrics = { accuracy: 0.91, latency_p99_ms: 120, latency_p50_ms: 40 };
  const champion = { version: '6', metrics: { accuracy: 0.93, latency_p99_ms: 150 } };
  const gate = evaluateGate(metrics, spec.gates, champion.metrics);
  return {
    workflowId: 'release:tiny-llm:v7', pipeline: 'tiny', model: 'tiny-llm', release: 'v7', stage: 'awaiting-approval',
    stages: [
      { stage: 'training', startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:03:05.000Z' },
      { stage: 'awaiting-approval', startedAt: '2026-01-01T00:03:05.000Z' },
    ],
    variants: [{ name: 'lr-3e-4', stage: 'done', params: { lr: 0.0003 }, finalLoss: 0.0123, metrics, gate }],
    selectedVariant: 'lr-3e-4', champion, gate, metrics,
    approval: { approvers: ['alice', 'bob'], escalated: false, refused: [{ by: 'mallory', at: '2026-01-01T00:04:00Z', reason: 'mallory is not an approver' }], deadline: '2026-01-04T00:03:05.000Z' },
    invalidMessages: [],
  };
}

describe('release details for the Web UI', () => {
  it('shows the gate as a table with the champion beside the candidate, and the exact signal to send', () => {
    const md = releaseDetails(waiting(), spec);
    expect(md).toMatch(/^## tiny-llm v7 · awaiting-approval/);
    expect(md).toContain('| metric | candidate | champion v6 | threshold | vs champion | result |');
    expect(md).toContain('| accuracy | 0.91 | 0.93 | ≥ 0.85 ✓ | ≥ 0.88 ✓ | ✓ |');
    expect(md).toContain('| latency_p99_ms | 120 | 150 | ≤ 500 ✓ | ≤ 150.05 ✓ | ✓ |');
    expect(md).toContain('**Stages** training 3m 05s → **awaiting-approval** since 00:03:05 UTC (started 2026-01-01)');
    expect(md).toContain('signal name `approve`');
    expect(md).toContain('{"approver": "alice", "reason": "gate table looks good"}');
    expect(md).toContain('Waiting for **alice, bob** until 2026-01-04T00:03:05.000Z.');
    expect(md).toContain('refused mallory');
  });

  it('shows the decision, the deployment, the monitor and a rollback once they happen', () => {
    const s = waiting();
    s.stage = 'rolled-back';
    s.approval!.decision = { decision: 'approved', by: 'alice', at: '2026-01-01T01:00:00Z', reason: 'ok' };
    s.deployment = { version: 'tiny-v7-lr-3e-4', endpoint: 'http://127.0.0.1:8000', previousVersion: 'tiny-v6-default', modelVersion: '7' };
    s.monitor = { elapsedMs: 60_000, durationMs: 600_000, samples: 2, breaches: 2, consecutiveBreaches: 2, continuedAsNew: 0, lastWindow: { requests: 10, errorRate: 0.5, latencyP99Ms: 900, healthy: true } };
    s.rollback = { by: 'system:monitor', at: '2026-01-01T01:05:00Z', reason: '2 consecutive breaches', automatic: true, restoredVersion: 'tiny-v6-default' };
    const md = releaseDetails(s, spec);
    expect(md).toContain('**approved** by alice');
    expect(md).not.toContain('Send a Signal** → signal name `approve`');
    expect(md).toContain('**tiny-v7-lr-3e-4** at http://127.0.0.1:8000 (MLflow version 7)');
    expect(md).toContain('Monitor: 1m 00s of 10m 00s, 2 samples, 2 breaches');
    expect(md).toContain('**Rolled back** by system:monitor');
  });

  it('formats durations', () => {
    expect([formatDuration(4200), formatDuration(185_000), formatDuration(3_720_000)]).toEqual(['4.2s', '3m 05s', '1h 02m']);
  });
});

describe('activity summaries', () => {
  const s = activitySummaries('tiny-v7');
  it('name the variant, the dataset and the version', () => {
    expect(s.trainModel!({ jobName: 'tiny-v7-lr-3e-4' })).toBe('train variant lr-3e-4');
    expect(s.evaluateModel!({ runKey: 'tiny-v7-lr-3e-4', datasetPath: '/x/eval.jsonl' })).toBe('evaluate lr-3e-4 on eval.jsonl');
    expect(s.promoteVersion!({ version: 'tiny-v7-lr-3e-4' })).toBe('promote tiny-v7-lr-3e-4');
    expect(s.mlflowPromote!({ version: '7' })).toBe('MLflow: champion → v7');
  });
});
