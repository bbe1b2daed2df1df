// A flood of messages during a long monitor interval continues the run as new before the next
// sample (the bound set low through the release input's maxHistoryEvents): the monitor goes on with
// the same elapsed time and snapshot, takes every sample once, and ends on time. Time-skipping
// server; the GPU job, model servers and metrics are TEST DOUBLES (workflow logic only).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { chainHelpers, EventType } from '../support/continue-as-new.js';
import { stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

const { handle, query, waitFor, floodUntilContinued, chainHistories } = chainHelpers(() => env);

describe('a monitor flooded with messages', () => {
  it('continues as new during its interval, then samples every interval once and ends on time', async () => {
    const spec = testSpec({ monitor: { duration: '1h', interval: '10m' } });
    const stubs = stubActivities();
    const taskQueue = 'monitor-flood';
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: stubs.activities });
    const id = 'release:unit-model:monitor-flood';
    const started = await env.client.workflow.start('releasePipeline', {
      taskQueue,
      workflowId: id,
      args: [{ spec, specDir: '/tmp', release: 'monitor-flood', codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue }, maxHistoryEvents: 60 }],
    });
    const result = await worker.runUntil(async () => {
      await waitFor(id, (s) => s.stage === 'monitoring');
      await floodUntilContinued(id, 'rollback');
      const carried = await query(id);
      expect(carried.stage).toBe('monitoring');
      expect(carried.monitor).toMatchObject({ samples: 0, breaches: 0 });
      expect(carried.monitor!.continuedAsNew).toBeGreaterThanOrEqual(1);
      expect(carried.monitor!.elapsedMs).toBeLessThan(600_000);
      return (await handle(id).result()) as ReleaseResult;
    });
    expect(result.status).toBe('completed');
    expect(result.report.monitor).toMatchObject({ samples: 6, durationMs: 3_600_000 });
    // The baseline at the start and six samples: none taken twice, none lost to continuing.
    expect(stubs.calls.filter((c) => c === 'sampleProductionMetrics')).toHaveLength(7);
    const monitoring = result.report.stages.find((s) => s.stage === 'monitoring')!;
    const tookMs = Date.parse(monitoring.endedAt!) - Date.parse(monitoring.startedAt);
    expect(tookMs).toBeGreaterThanOrEqual(3_600_000);
    expect(tookMs).toBeLessThan(3_600_000 + 60_000);
    const chain = await chainHistories(id, started.firstExecutionRunId);
    expect(chain.length).toBeGreaterThanOrEqual(2);
    for (const run of chain) expect(run.events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
  });
});
