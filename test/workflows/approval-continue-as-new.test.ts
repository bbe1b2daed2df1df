// A long approval wait continues as new once its history reaches the bound (here set low through the
// release input's maxHistoryEvents), carrying the approval state, refusals, audit and the winner, so
// the release keeps waiting in the next run and then deploys, or times out at the original deadline.
// Time-skipping server, stubbed activities (workflow logic only).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/spec/schema.js';
import { STAGE_KEY } from '../../src/workflows/context.js';
import { approveSignal, approveUpdate } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { chainHelpers, EventType } from '../support/continue-as-new.js';
import { recordHistory } from '../support/histories.js';
import { stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

let seq = 0;
async function withPipeline<T>(spec: PipelineSpec, body: (id: string, firstRunId: string, notified: string[]) => Promise<T>): Promise<{ value: T; calls: string[] }> {
  const taskQueue = `can-${++seq}`;
  const stubs = stubActivities();
  const notified: string[] = [];
  const activities = { ...stubs.activities, notify: async (input: { event: string }) => (notified.push(input.event), { delivered: true }) };
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  const id = `release:${spec.model.name}:c${seq}`;
  const handle = await env.client.workflow.start('releasePipeline', {
    taskQueue,
    workflowId: id,
    args: [{ spec, specDir: '/tmp', release: `c${seq}`, codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue }, maxHistoryEvents: 60 }],
  });
  const value = await worker.runUntil(body(id, handle.firstExecutionRunId, notified));
  return { value, calls: stubs.calls };
}

const { handle, query, waitFor, floodUntilContinued, send, chainHistories } = chainHelpers(() => env);

const approval = { approvers: ['alice', 'bob'], timeout: '3d', min_approvals: 2 };

describe('approval waits that continue as new', () => {
  it('carries votes, refusals, audit and invalid messages into the next run, then deploys the winner on the last approval', async () => {
    const spec = testSpec({ approval, notify: { webhook_env: 'SLIPWAY_WEBHOOK_URL' } });
    const { value, calls } = await withPipeline(spec, async (id, firstRunId, notified) => {
      const before = await waitFor(id, (s) => s.stage === 'awaiting-approval');
      await send(id, approveSignal.name, { approver: 'mallory', reason: 'trust me' });
      await send(id, approveSignal.name, { approver: 'alice', reason: 'eval fine' });
      await send(id, 'aprove', { approver: 'bob' });
      const flood = await floodUntilContinued(id);

      const carried = await query(id);
      expect(carried.stage).toBe('awaiting-approval');
      expect(carried.approval).toMatchObject({ deadline: before.approval?.deadline, votes: [{ by: 'alice', reason: 'eval fine' }], stillNeeded: { count: 1, from: ['bob'] } });
      expect(carried.approval?.refused).toEqual([expect.objectContaining({ by: 'mallory', reason: expect.stringMatching(/not an approver/) })]);
      expect(carried.invalidMessageCount).toBe(flood + 1);
      expect(carried.invalidMessages[0]).toMatchObject({ name: 'aprove', error: expect.stringMatching(/unknown signal/) });
      // The new run still shows the stage to `slipway list --stage awaiting-approval` and the UI.
      const description = await handle(id).describe();
      expect(description.runId).not.toBe(firstRunId);
      expect(description.typedSearchAttributes.get(STAGE_KEY)).toBe('awaiting-approval');
      // The wait was announced once: the new run did not notify again.
      expect(notified.filter((e) => e === 'awaiting-approval')).toHaveLength(1);

      await handle(id).executeUpdate(approveUpdate, { args: [{ approver: 'bob', reason: 'quorum' }] });
      const res = (await handle(id).result()) as ReleaseResult;
      return { res, firstRunId, chain: await chainHistories(id, firstRunId) };
    });
    const { res, firstRunId, chain } = value;
    expect(res.status).toBe('completed');
    expect(res.approval).toMatchObject({ decision: 'approved', by: 'alice, bob', reason: 'eval fine; quorum' });
    expect(res.deployedVersion).toBe(`unit-pipeline-${res.release}-default`);
    expect(res.report.audit?.map((e) => [e.action, e.by, e.counted, e.via])).toEqual([
      ['approve', 'mallory', false, 'signal'],
      ['approve', 'alice', true, 'signal'],
      ['approve', 'bob', true, 'update'],
    ]);
    expect(res.report.stages.map((s) => s.stage).filter((s) => s === 'awaiting-approval')).toHaveLength(1);
    expect(calls.filter((c) => c === 'promoteVersion')).toHaveLength(1);
    expect(calls.filter((c) => c === 'trainModel')).toHaveLength(1);

    expect(chain.length).toBeGreaterThanOrEqual(2);
    expect(chain[0]!.events.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    for (const run of chain) expect(run.events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
    await recordHistory(handle(res.workflowId, firstRunId), 'approval-continued-as-new');
    await recordHistory(handle(res.workflowId), 'approval-resumed-then-approved');
  });

  it('keeps the original deadline and reminder across runs: no decision within 3 days still rejects at 3 days', async () => {
    const spec = testSpec({ approval: { approvers: ['alice'], timeout: '3d' }, notify: { webhook_env: 'SLIPWAY_WEBHOOK_URL' } });
    const { value: res, calls } = await withPipeline(spec, async (id, _first, notified) => {
      await waitFor(id, (s) => s.stage === 'awaiting-approval');
      await floodUntilContinued(id);
      await env.sleep('2d'); // past the half-way reminder, in the second run
      await floodUntilContinued(id);
      const res = (await handle(id).result()) as ReleaseResult;
      expect(notified.filter((e) => e === 'approval-reminder')).toHaveLength(1);
      return res;
    });
    expect(res.status).toBe('rejected');
    expect(res.approval).toMatchObject({ decision: 'rejected', by: 'system:timeout' });
    // At least the two floods' worth: signals still in flight when a run continues can push the next run past the bound too.
    expect(res.report.approval?.continuedAsNew).toBeGreaterThanOrEqual(2);
    const waited = res.report.stages.find((s) => s.stage === 'awaiting-approval')!;
    const waitedMs = Date.parse(waited.endedAt!) - Date.parse(waited.startedAt);
    expect(waitedMs).toBeGreaterThanOrEqual(3 * 86_400_000);
    expect(waitedMs).toBeLessThan(3 * 86_400_000 + 60_000);
    expect(calls).not.toContain('promoteVersion');
  });
});
