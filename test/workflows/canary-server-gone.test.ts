// A canary whose server died after its last step: the promote that would make it live finds it not
// running, and the rollout ends aborted (all traffic on stable) instead of the release failing.
// Under the time-skipping server with TEST DOUBLES for the serving activities: the moment between the
// last step and the promote cannot be hit reliably with real processes (the real router, and a
// canary killed during a pause, are in test/integration/canary.test.ts).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServingActivities } from '../../src/activities/index.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { canaryRouterDoubles, stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

it('aborts a canary whose server is gone when it is to be made live, and never makes it live', async () => {
  const stubs = stubActivities();
  const weights: number[] = [];
  // TEST DOUBLES for the deploy target: the canary takes its weights, then its server is gone.
  const serving: Pick<ServingActivities, 'describeDeployment' | 'setCanaryWeight' | 'promoteVersion'> = {
    ...canaryRouterDoubles(weights),
    async promoteVersion(input) {
      stubs.calls.push('promoteVersion');
      // What the local target answers for a version whose process exited.
      throw ApplicationFailure.create({ type: 'VersionNotDeployed', nonRetryable: true, message: `version ${input.version} of ${input.deploymentName} is not running` });
    },
  };
  const spec = testSpec({ rollout: { strategy: 'canary', steps: [{ set_weight: 50 }] } });
  const taskQueue = 'canary-server-gone';
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...stubs.activities, ...serving } });
  const result = await worker.runUntil(
    env.client.workflow.execute('releasePipeline', {
      taskQueue,
      workflowId: 'release:unit-model:server-gone',
      args: [{ spec, specDir: '/tmp', release: 'server-gone', codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue } }],
    }) as Promise<ReleaseResult>,
  );
  expect(result.status).toBe('aborted');
  expect(result.report.stage).toBe('aborted');
  expect(result.report.rollout).toMatchObject({ phase: 'aborted', weight: 0, abort: { by: 'system:canary-server' } });
  expect(result.report.rollout!.abort!.reason).toMatch(/is no longer running/);
  expect(result.report.deployment).toBeUndefined();
  expect(result.deployedVersion).toBeUndefined();
  // Traffic back to stable, then the canary's leftovers stopped; nothing after the refused promote made it live.
  expect(weights).toEqual([50, 0]);
  expect(stubs.calls.filter((c) => c === 'promoteVersion' || c.startsWith('stopCandidate') || c === 'smokeTest')).toEqual(['promoteVersion', expect.stringMatching(/^stopCandidate:/)]);
}, 120_000);
