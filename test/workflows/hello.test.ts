import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { slipwayPlugin } from '../../src/plugin.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});
afterAll(async () => env?.teardown());

it('runs a workflow on the real dev server through the Slipway plugin', async () => {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'hello-test',
    plugins: [slipwayPlugin({ stateDir: inject('servicesDir') })],
  });
  const result = await worker.runUntil(
    env.client.workflow.execute('hello', { taskQueue: 'hello-test', workflowId: `hello-${Date.now()}`, args: ['tests'] }),
  );
  expect(result).toBe("Hello, tests! Slipway's worker is up.");
});
