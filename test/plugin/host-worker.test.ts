// A platform engineer adds slipwayPlugin to a worker that already has workflows and activities of
// its own: both keep working on that one worker (the plugin merges the workflow bundles).
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { loadSpec } from '../../src/client/spec-file.js';
import { slipwayPlugin } from '../../src/plugin.js';
import type { SlipwayQueues } from '../../src/queues.js';
import { createSlipwayWorkers, type SlipwayWorkers } from '../../src/worker.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { quietRuntime } from '../support/temporal.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-host-'));
const queues: SlipwayQueues = { orchestration: 'host-app', serving: 'host-app-serving', gpu: 'host-app-gpu' };
const runtime = { stateDir, mlflow: mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: inject('mlflowUrl') }), env: {} };

let native: NativeConnection;
let connection: Connection;
let hostWorker: Worker;
let roleWorkers: SlipwayWorkers;
let running: Promise<unknown>;

beforeAll(async () => {
  quietRuntime();
  native = await NativeConnection.connect({ address });
  // The host's existing worker, with its own workflows and activities, plus the plugin.
  hostWorker = await Worker.create({
    connection: native,
    taskQueue: queues.orchestration,
    workflowsPath: path.join(import.meta.dirname, '..', 'fixtures', 'host', 'workflows.ts'),
    activities: { hostGreeting: async (name: string) => `hello ${name}` },
    plugins: [slipwayPlugin(runtime)],
  });
  // The serving and gpu roles on their own workers (other hosts in production).
  roleWorkers = await createSlipwayWorkers({ address, namespace: 'default', roles: ['serving', 'gpu'], queues, ...runtime });
  running = Promise.all([hostWorker.run(), roleWorkers.run()]);
  connection = await Connection.connect({ address });
});
afterAll(async () => {
  hostWorker?.shutdown();
  roleWorkers?.shutdown();
  await running;
  await roleWorkers?.close();
  await native?.close();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

describe('slipwayPlugin on a worker with workflows of its own', () => {
  it('runs one of the host workflows and a release on the same worker', async () => {
    const client = new Client({ connection });
    const greeting = await client.workflow.execute('hostWorkflow', { taskQueue: queues.orchestration, workflowId: `host-${Date.now()}`, args: ['slipway'] });
    expect(greeting).toBe('hello slipway');

    const slipway = new SlipwayClient(client, queues);
    const { workflowId } = await slipway.start(loadSpec(writeSpec({ name: 'host-app', deployPort: await endpointPort() })), { release: 'p1' });
    const res = (await slipway.result(workflowId)) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect((await slipway.handle(workflowId).describe()).taskQueue).toBe(queues.orchestration);
  });
});
