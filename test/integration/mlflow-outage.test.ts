import { Client, Connection } from '@temporalio/client';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import { startMlflowServer, type RunningMlflow } from '../../src/stack/mlflow-server.js';
import { freePort } from '../../src/system/ports.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';

const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-outage-'));
let mlflowPort: number;
let mlflow: RunningMlflow | undefined;
let worker: WorkerProcess | undefined;
let connection: Connection;

const startMlflow = () => startMlflowServer({ port: mlflowPort, stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') });

beforeAll(async () => {
  mlflowPort = await freePort();
  mlflow = await startMlflow();
  worker = await startWorkerProcess(['--address', address, '--state-dir', path.join(dir, 'state')], { MLFLOW_TRACKING_URI: mlflow.url });
  connection = await Connection.connect({ address });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(path.join(dir, 'state'));
  await mlflow?.stop();
  await connection?.close();
});

it('waits while MLflow is down and completes once it is back', async () => {
  const slipway = new SlipwayClient(new Client({ connection }));
  const spec = writeSpec({ name: 'mlflow-outage', deployPort: await freePort(), approval: { approvers: ['alice'], timeout: '1h' } });
  const started = await runCli(['run', spec, '--release', 'outage', '--json'], { TEMPORAL_ADDRESS: address });
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  const poll = async (done: (v: ReleaseView) => boolean) => {
    for (let i = 0; i < 240; i++) {
      const v = await slipway.status(id);
      if (done(v)) return v;
      await sleep(250);
    }
    throw new Error(`${id}: condition not reached`);
  };
  await poll((v) => v.stage === 'awaiting-approval');

  await mlflow!.stop();
  expect((await runCli(['approve', id, '--as', 'alice'], { TEMPORAL_ADDRESS: address })).code).toBe(0);
  // The approval tags cannot reach MLflow: the activity retries with back-off and the run waits.
  const waiting = await poll((v) => v.progress.some((p) => p.activity === 'mlflowSetTags' && p.attempt >= 2));
  expect(waiting.execution.status).toBe('RUNNING');
  expect(waiting.stage).toBe('awaiting-approval');

  mlflow = await startMlflow();
  const res = (await slipway.result(id)) as ReleaseResult;
  expect(res.status).toBe('completed');
  expect(res.modelVersion).toBe('1');
});
