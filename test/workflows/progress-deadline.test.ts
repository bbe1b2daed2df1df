// The progress deadline on a weight change that cannot be applied in time, under the time-skipping
// server with test doubles for the serving activities (the real router's abort is in
// test/integration/canary-deadline-bake.test.ts).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingActivities } from '../../src/activities/index.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { canaryRouterDoubles, stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

describe('the progress deadline', () => {
  it('aborts a canary whose set_weight does not return within it, and puts all traffic back on stable', async () => {
    const stubs = stubActivities();
    const weights: number[] = [];
    // TEST DOUBLES for the router: 50% takes 6 s to apply (a wedged update); the rest is at once.
    const router = canaryRouterDoubles(weights);
    const serving: Pick<ServingActivities, 'describeDeployment' | 'setCanaryWeight'> = {
      ...router,
      async setCanaryWeight(input) {
        const applied = await router.setCanaryWeight(input);
        if (input.weight === 50) await new Promise((r) => setTimeout(r, 6_000));
        return applied;
      },
    };
    const spec = testSpec({ rollout: { strategy: 'canary', progress_deadline: '2s', steps: [{ set_weight: 20 }, { set_weight: 50 }, { set_weight: 100 }] } });
    const taskQueue = 'progress-deadline';
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...stubs.activities, ...serving } });
    const result = await worker.runUntil(
      env.client.workflow.execute('releasePipeline', {
        taskQueue,
        workflowId: 'release:unit-model:deadline',
        args: [{ spec, specDir: '/tmp', release: 'deadline', codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue } }],
      }) as Promise<ReleaseResult>,
    );
    expect(result.status).toBe('aborted');
    expect(result.report.rollout).toMatchObject({
      phase: 'aborted',
      step: 1,
      weight: 0,
      abort: { by: 'system:progress-deadline', reason: 'step 2/3 (set_weight 50) made no progress within progress_deadline 2s' },
    });
    // The abort came while 50% was still being applied; 100% was never asked for.
    expect(weights).toEqual([20, 50, 0]);
    expect(stubs.calls).not.toContain('promoteVersion');
  }, 120_000);
});
