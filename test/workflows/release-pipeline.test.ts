import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/spec/schema.js';
import { approveSignal, approveUpdate, rollbackUpdate, statusQuery } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { Stage } from '../../src/workflows/status.js';
import { stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { recordHistory } from '../support/histories.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

let seq = 0;
async function withPipeline<T>(spec: PipelineSpec, stubs: ReturnType<typeof stubActivities>, body: (id: string, firstRunId: string) => Promise<T>): Promise<T> {
  const taskQueue = `unit-${++seq}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: stubs.activities,
  });
  const id = `release:${spec.model.name}:t${seq}`;
  const handle = await env.client.workflow.start('releasePipeline', {
    taskQueue,
    workflowId: id,
    args: [{ spec, specDir: '/tmp', release: `t${seq}`, codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue } }],
  });
  return worker.runUntil(body(id, handle.firstExecutionRunId));
}

async function waitForStage(id: string, stage: Stage): Promise<void> {
  const handle = env.client.workflow.getHandle(id);
  for (let i = 0; i < 200; i++) {
    if ((await handle.query(statusQuery)).stage === stage) return;
    await sleep(100);
  }
  throw new Error(`${id} never reached ${stage}`);
}

/** The reason a validator gave for refusing an update. */
async function refusal(update: Promise<unknown>): Promise<string> {
  const err = await update.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

const result = (id: string) => env.client.workflow.getHandle(id).result() as Promise<ReleaseResult>;
const approval = { approvers: ['alice', 'bob'], timeout: '3d' };

describe('releasePipeline under the time-skipping server', () => {
  it('rejects the release when no approval comes within 3 days', async () => {
    const stubs = stubActivities();
    const res = await withPipeline(testSpec({ approval }), stubs, result);
    expect(res.status).toBe('rejected');
    expect(res.approval).toMatchObject({ decision: 'rejected', by: 'system:timeout' });
    const waited = res.report.stages.find((s) => s.stage === 'awaiting-approval');
    const waitedMs = Date.parse(waited!.endedAt!) - Date.parse(waited!.startedAt);
    expect(waitedMs).toBeGreaterThanOrEqual(3 * 86_400_000);
    expect(waitedMs).toBeLessThan(3 * 86_400_000 + 60_000);
    expect(stubs.calls).not.toContain('promoteVersion');
  });

  it('escalates after the timeout when the spec says so, and the escalation approver can approve', async () => {
    const stubs = stubActivities();
    const spec = testSpec({ approval: { ...approval, on_timeout: 'escalate', escalate_to: ['carol'] } });
    const res = await withPipeline(spec, stubs, async (id) => {
      const handle = env.client.workflow.getHandle(id);
      await waitForStage(id, 'awaiting-approval');
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ approver: 'carol' }] }))).toMatch(/carol is not an approver/);
      await env.sleep('3d');
      expect((await handle.query(statusQuery)).approval?.escalated).toBe(true);
      await handle.executeUpdate(approveUpdate, { args: [{ approver: 'carol', reason: 'on call' }] });
      return result(id);
    });
    expect(res.status).toBe('completed');
    expect(res.approval).toMatchObject({ decision: 'approved', by: 'carol', reason: 'on call' });
  });

  it('refuses a non-approver and ignores a malformed signal, then completes on a real approval', async () => {
    const stubs = stubActivities();
    const res = await withPipeline(testSpec({ approval }), stubs, async (id) => {
      const handle = env.client.workflow.getHandle(id);
      await waitForStage(id, 'awaiting-approval');
      await handle.signal(approveSignal, { approver: 'mallory', reason: 'trust me' });
      await handle.signal(approveSignal, { nonsense: 42 } as never);
      await handle.signal('approve', 'not even an object');
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('awaiting-approval');
      expect(status.approval?.refused).toEqual([expect.objectContaining({ by: 'mallory', reason: expect.stringMatching(/not an approver/) })]);
      expect(status.invalidMessages.map((m) => m.name)).toEqual(['approve', 'approve']);
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ approver: '' }] }))).toMatch(/approver is required/);
      await handle.signal(approveSignal, { approver: 'bob', reason: 'metrics fine' });
      return result(id);
    });
    expect(res.status).toBe('completed');
    expect(res.approval).toMatchObject({ decision: 'approved', by: 'bob', reason: 'metrics fine' });
    await recordHistory(env.client.workflow.getHandle(res.workflowId), 'refused-approver-then-approved');
    expect(res.deployedVersion).toBe(`unit-pipeline-${res.release}-default`);
  });

  it('monitors for 7 days through continue-as-new and completes', async () => {
    const stubs = stubActivities();
    const spec = testSpec({ monitor: { duration: '7d', interval: '1h' } });
    const { res, firstRunId } = await withPipeline(spec, stubs, async (id, firstRunId) => ({ res: await result(id), firstRunId }));
    expect(res.status).toBe('completed');
    expect(res.report.monitor).toMatchObject({ samples: 168, breaches: 0, elapsedMs: 7 * 86_400_000 });
    expect(res.report.monitor!.continuedAsNew).toBeGreaterThanOrEqual(1);
    // The first run ended by continuing as new, and the result came from a later run of the chain.
    const first = await env.client.workflow.getHandle(res.workflowId, firstRunId).fetchHistory();
    const last = first.events!.at(-1)!;
    expect(last.eventType).toBe(proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    expect(last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId).not.toBe(firstRunId);
    const { runId } = await env.client.workflow.getHandle(res.workflowId).describe();
    expect(runId).not.toBe(firstRunId);
    // 168 judged samples and the baseline taken as monitoring began.
    expect(stubs.calls.filter((c) => c === 'sampleProductionMetrics')).toHaveLength(169);
    // Both ends of the chain replay: the run that continued as new, and the one that completed.
    await recordHistory(env.client.workflow.getHandle(res.workflowId, firstRunId), 'monitor-continued-as-new');
    await recordHistory(env.client.workflow.getHandle(res.workflowId), 'monitor-chain-completed');
    // Continuing as new is not a failure: nothing was cleaned up or stopped on the way.
    expect(stubs.calls.filter((c) => c.startsWith('stopCandidate'))).toEqual([]);
    expect(res.report.stages.map((s) => s.stage)).not.toContain('failed');
  });

  it('rolls back automatically after the configured consecutive breaches', async () => {
    const stubs = stubActivities({ sample: (n) => (n < 2 ? { healthy: true, requests: 10, errorRate: 0, latencyP99Ms: 20 } : { healthy: true, requests: 10, errorRate: 0.5, latencyP99Ms: 20 }) });
    const spec = testSpec({ monitor: { duration: '1d', interval: '5m', breaches_to_rollback: 3 } });
    const res = await withPipeline(spec, stubs, result);
    expect(res.status).toBe('rolled-back');
    expect(res.report.monitor).toMatchObject({ samples: 5, breaches: 3, consecutiveBreaches: 3 });
    expect(res.report.rollback).toMatchObject({ automatic: true, by: 'system:monitor', restoredVersion: 'v-previous' });
    expect(stubs.calls).toContain('rollbackDeployment');
    await recordHistory(env.client.workflow.getHandle(res.workflowId), 'auto-rollback-after-breaches');
  });

  it('judges the first interval after deploy: a version failing from the start rolls back after exactly breaches_to_rollback intervals', async () => {
    const stubs = stubActivities({ sample: () => ({ healthy: true, requests: 10, errorRate: 0.5, latencyP99Ms: 20 }) });
    const spec = testSpec({ monitor: { duration: '1d', interval: '5m', breaches_to_rollback: 3 } });
    const res = await withPipeline(spec, stubs, result);
    expect(res.status).toBe('rolled-back');
    expect(res.report.monitor).toMatchObject({ samples: 3, breaches: 3, consecutiveBreaches: 3, elapsedMs: 3 * 300_000 });
    const monitoring = res.report.stages.find((s) => s.stage === 'monitoring')!;
    // Three intervals of workflow time plus the activities' own few ms; before the baseline, four intervals.
    const tookMs = Date.parse(res.report.rollback!.at) - Date.parse(monitoring.startedAt);
    expect(tookMs).toBeGreaterThanOrEqual(3 * 300_000);
    expect(tookMs).toBeLessThan(3 * 300_000 + 60_000);
    await recordHistory(env.client.workflow.getHandle(res.workflowId), 'monitor-baseline-then-rollback');
  });

  it('fails loudly, keeping the endpoint up, when the first release of a pipeline breaches', async () => {
    const stubs = stubActivities({ firstRelease: true, sample: () => ({ healthy: false, requests: 0, errorRate: 0, latencyP99Ms: null }) });
    const spec = testSpec({ monitor: { duration: '1d', interval: '5m', breaches_to_rollback: 2 } });
    const err = await withPipeline(spec, stubs, (id) => result(id).catch((e: unknown) => e));
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('NoPreviousVersion');
    expect(cause.message).toMatch(/is the first version of unit-pipeline: it stays live/);
    expect(stubs.calls).not.toContain('rollbackDeployment');
  });

  it('rolls back on an operator order during monitoring; a stranger is refused', async () => {
    const stubs = stubActivities();
    const spec = testSpec({ operators: ['ops'], monitor: { duration: '2d', interval: '1h' } });
    const res = await withPipeline(spec, stubs, async (id) => {
      const handle = env.client.workflow.getHandle(id);
      await waitForStage(id, 'monitoring');
      expect(await refusal(handle.executeUpdate(rollbackUpdate, { args: [{ requestedBy: 'stranger' }] }))).toMatch(/stranger may not roll back/);
      const after = await handle.executeUpdate(rollbackUpdate, { args: [{ requestedBy: 'ops', reason: 'customer reports' }] });
      expect(after.stage).toBe('rolled-back');
      return result(id);
    });
    expect(res.status).toBe('rolled-back');
    expect(res.report.rollback).toMatchObject({ by: 'ops', reason: 'customer reports', automatic: false });
  });

  it('trains and evaluates variants in parallel within max_parallel and deploys the best that passes', async () => {
    const accuracy: Record<string, number> = { small: 0.87, large: 0.95, broken: 0.4 };
    const stubs = stubActivities({ accuracy: (runKey) => accuracy[runKey.split('-').at(-1)!] ?? 0 });
    const spec = testSpec({
      evaluate: { dataset: 'eval.jsonl', max_parallel: 2, variants: [{ name: 'small' }, { name: 'large' }, { name: 'broken' }] },
    });
    const res = await withPipeline(spec, stubs, result);
    expect(res.status).toBe('completed');
    expect(res.report.selectedVariant).toBe('large');
    expect(res.deployedVersion).toMatch(/-large$/);
    expect(res.report.variants.map((v) => [v.name, v.gate?.passed])).toEqual([['small', true], ['large', true], ['broken', false]]);
    expect(stubs.training.max).toBe(2);
    expect(stubs.calls.filter((c) => c.startsWith('stopCandidate:')).sort()).toEqual([expect.stringMatching(/-broken$/), expect.stringMatching(/-small$/)]);
  });

  it('goes on without a variant whose training failed, and records why', async () => {
    const stubs = stubActivities();
    const spec = testSpec({ evaluate: { dataset: 'eval.jsonl', variants: [{ name: 'crashy' }, { name: 'steady' }] } });
    const res = await withPipeline(spec, stubs, result);
    expect(res.status).toBe('completed');
    expect(res.report.selectedVariant).toBe('steady');
    expect(res.report.variants[0]).toMatchObject({ name: 'crashy', stage: 'failed', error: 'trainModel failed: TrainingJobFailed: training job exited with code 3: CUDA out of memory' });
  });

  it('ends with a typed GateFailed failure carrying the report when accuracy is too low', async () => {
    const stubs = stubActivities({ accuracy: 0.5 });
    const err = await withPipeline(testSpec(), stubs, (id) => result(id).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('GateFailed');
    expect((cause as ApplicationFailure).message).toMatch(/❌ accuracy: 0.5 \(required >= 0.85\)/);
    expect((cause as ApplicationFailure).details?.[0]).toMatchObject({ passed: false });
    expect(stubs.calls).not.toContain('promoteVersion');
  });
});
