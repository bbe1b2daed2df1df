// A canary's long waits (a pause step, an inconclusive analysis, a person's pause) continue as new
// once a flood of messages makes the history too long (the bound set low through the release input's
// maxHistoryEvents): the next run goes on at the same step, with the same weights, pause end and
// orders, and the canary deploys once. Time-skipping server; the router, the metrics and the GPU
// job are TEST DOUBLES (workflow logic only; the real canary is in test/integration/canary.test.ts).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingActivities } from '../../src/activities/index.js';
import type { PipelineSpecInput } from '../../src/spec/schema.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { chainHelpers, EventType } from '../support/continue-as-new.js';
import { recordHistory } from '../support/histories.js';
import { canaryRouterDoubles, stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

const { handle, query, waitFor, floodUntilContinued, send, chainHistories } = chainHelpers(() => env);

let seq = 0;
/** Runs a canary release of `rollout` on its own queue; the body drives it and returns its result. */
async function withCanary(rollout: PipelineSpecInput['rollout'], measured: Array<number | null>, body: (id: string) => Promise<ReleaseResult>) {
  const taskQueue = `canary-can-${++seq}`;
  const stubs = stubActivities();
  const weights: number[] = [];
  let measurements = 0;
  // TEST DOUBLES for the router and Prometheus: weights are recorded, measurements come from `measured`.
  const serving: Pick<ServingActivities, 'describeDeployment' | 'setCanaryWeight' | 'measureMetric'> = {
    ...canaryRouterDoubles(weights),
    async measureMetric(input) {
      const i = measurements++;
      return { value: i < measured.length ? measured[i]! : 0, query: input.query };
    },
  };
  const spec = testSpec({ operators: ['ops'], rollout });
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...stubs.activities, ...serving } });
  const id = `release:${spec.model.name}:cc${seq}`;
  const started = await env.client.workflow.start('releasePipeline', {
    taskQueue,
    workflowId: id,
    args: [{ spec, specDir: '/tmp', release: `cc${seq}`, codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue }, maxHistoryEvents: 60 }],
  });
  const result = await worker.runUntil(body(id));
  const chain = await chainHistories(id, started.firstExecutionRunId);
  return { result, calls: stubs.calls, weights, measurements, chain, firstRunId: started.firstExecutionRunId };
}

const order = (by: string, reason = '') => ({ by, reason });

function expectCleanChain(chain: Awaited<ReturnType<typeof chainHistories>>, runs: number): void {
  expect(chain.length).toBeGreaterThanOrEqual(runs);
  for (const run of chain.slice(0, -1)) expect(run.events.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  for (const run of chain) expect(run.events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
}

describe('canary waits that continue as new', () => {
  it('a pause step waiting for a person, then a timed pause: each flood continues the run, which goes on at the same step, weight, pause end and orders', async () => {
    const steps = [{ set_weight: 30 }, { pause: {} }, { set_weight: 60 }, { pause: { duration: '1h' } }];
    const { result, calls, weights, chain, firstRunId } = await withCanary({ strategy: 'canary', steps }, [], async (id) => {
      await waitFor(id, (s) => s.rollout?.phase === 'paused' && s.rollout.step === 1);
      await send(id, 'pause', order('ops', 'hold on'));
      await floodUntilContinued(id, 'promote');
      const carried = await query(id);
      expect(carried.stage).toBe('canary');
      expect(carried.rollout).toMatchObject({ step: 1, phase: 'paused', weight: 30, pause: { reason: 'waiting for a person to promote' } });
      // At least one: signals still in flight when a run continues can push the next run past the bound too.
      expect(carried.rollout!.continuedAsNew).toBeGreaterThanOrEqual(1);
      expect(carried.rollout?.controls.map((c) => c.action)).toEqual(['pause']);
      // The person's pause came through: a second pause is refused, resume is taken.
      await send(id, 'pause', order('ops'));
      expect((await query(id)).invalidMessages.at(-1)).toMatchObject({ name: 'pause', error: 'the rollout is already paused' });
      await send(id, 'resume', order('ops'));
      await send(id, 'promote', order('ops', 'looks fine'));

      const timed = await waitFor(id, (s) => s.rollout?.phase === 'paused' && s.rollout.step === 3);
      await floodUntilContinued(id, 'promote');
      const again = await query(id);
      expect(again.rollout).toMatchObject({ step: 3, weight: 60, pause: timed.rollout!.pause });
      return (await handle(id).result()) as ReleaseResult;
    });
    expect(result.status).toBe('completed');
    expect(result.report.rollout).toMatchObject({ phase: 'completed', weight: 100 });
    expect(result.report.rollout!.continuedAsNew).toBeGreaterThanOrEqual(2);
    expect(result.report.rollout!.controls.map((c) => c.action)).toEqual(['pause', 'resume', 'promote']);
    expect(weights).toEqual([30, 60]);
    expect(calls.filter((c) => c === 'promoteVersion')).toHaveLength(1);
    expect(calls.filter((c) => c === 'trainModel')).toHaveLength(1);
    // The timed pause ended an hour after it began, across the runs: the canary took an hour and no more.
    const canary = result.report.stages.find((s) => s.stage === 'canary')!;
    const tookMs = Date.parse(canary.endedAt!) - Date.parse(canary.startedAt);
    expect(tookMs).toBeGreaterThanOrEqual(3_600_000);
    expect(tookMs).toBeLessThan(3_600_000 + 60_000);
    expect(result.report.stages.filter((s) => s.stage === 'canary')).toHaveLength(1);
    expectCleanChain(chain, 3);
    await recordHistory(handle(result.workflowId, firstRunId), 'canary-continued-as-new');
    await recordHistory(handle(result.workflowId), 'canary-resumed-then-completed');
  });

  it('an inconclusive analysis waits across runs for the person, without measuring again; a person pausing an analysis starts it again after continuing', async () => {
    const rollout = {
      strategy: 'canary' as const,
      steps: [{ set_weight: 20 }, { analysis: [{ name: 'errors', template: 'error-rate' as const, interval: '1m' }] }, { analysis: [{ name: 'errors', template: 'error-rate' as const, interval: '5m', count: 2 }] }],
    };
    // The first measurement has no data (inconclusive); every later one is 0 errors.
    const { result, measurements, chain } = await withCanary(rollout, [null], async (id) => {
      await waitFor(id, (s) => s.rollout?.step === 1);
      await env.sleep('2m'); // one interval: the first measurement
      await waitFor(id, (s) => s.rollout?.pause?.reason.startsWith('inconclusive') === true);
      await floodUntilContinued(id, 'abort');
      expect((await query(id)).rollout).toMatchObject({ step: 1, phase: 'paused', pause: { reason: expect.stringMatching(/^inconclusive/) } });
      await send(id, 'promote', order('ops', 'quiet hour'));

      await waitFor(id, (s) => s.rollout?.step === 2 && s.rollout.analysisRuns.length === 2);
      await send(id, 'pause', order('ops'));
      await floodUntilContinued(id, 'abort');
      const paused = await query(id);
      expect(paused.rollout?.analysisRuns[1]).toMatchObject({ phase: 'skipped', message: expect.stringMatching(/continued as new/) });
      await send(id, 'resume', order('ops'));
      return (await handle(id).result()) as ReleaseResult;
    });
    expect(result.status).toBe('completed');
    const runs = result.report.rollout!.analysisRuns;
    expect(runs.map((r) => [r.step, r.phase])).toEqual([
      [1, 'inconclusive'],
      [2, 'skipped'],
      [2, 'successful'],
    ]);
    // One inconclusive measurement, then the restarted analysis' two: the interrupted one took at most one.
    expect(runs[2]!.metrics[0]!.taken).toBe(2);
    expect(measurements).toBeLessThanOrEqual(4);
    expectCleanChain(chain, 3);
  });
});
