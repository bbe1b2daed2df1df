// MLflow stopped twice during one release: while it waits for approval (the approval's tags cannot
// be written) and as it enters deploying (a test hook holds the promote until MLflow is down, so the
// model upload and registration find it down every time). The release waits each time, and once
// MLflow is back it registers exactly one model version, as MLflow's own registry lists it.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
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
import { isPausedAt, pausedAt, registeredVersions, servingProcesses } from '../chaos/support.js';
import { waitFor } from '../support/wait.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-outage-'));
const stateDir = path.join(dir, 'state');
let mlflowPort: number;
let mlflow: RunningMlflow | undefined;
let worker: WorkerProcess | undefined;
let connection: Connection;

const startMlflow = () => startMlflowServer({ port: mlflowPort, stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') });

beforeAll(async () => {
  mlflowPort = await freePort();
  mlflow = await startMlflow();
  // The test hook holds the promote (SLIPWAY_TEST_PAUSE_AT) until the test has stopped MLflow.
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: mlflow.url, SLIPWAY_TEST_PAUSE_AT: 'promote:after-intent' });
  connection = await Connection.connect({ address });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await mlflow?.stop();
  await connection?.close();
});

// Two outages, each waited out with the MLflow activities' back-off (2 s, doubling, up to a minute): a longer bound than the default.
it('waits while MLflow is down, at the approval and again at deploy, and registers exactly one version once it is back', async () => {
  const slipway = new SlipwayClient(new Client({ connection }));
  const spec = writeSpec({ name: 'mlflow-outage', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' } });
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

  // Deploying: MLflow goes down between the decision to promote and the model's registration.
  await waitFor(() => isPausedAt(stateDir, 'mlflow-outage'), 'the promote to reach the hook', 120_000);
  await mlflow.stop();
  rmSync(pausedAt(stateDir, 'mlflow-outage'));
  const registering = await poll((v) => v.progress.some((p) => ['mlflowRegisterRelease', 'mlflowLogFile', 'mlflowRegisterModelVersion'].includes(p.activity) && p.attempt >= 2));
  expect(registering.execution.status).toBe('RUNNING');
  expect(registering.stage).toBe('deploying');

  mlflow = await startMlflow();
  const res = (await slipway.result(id)) as ReleaseResult;
  expect(res.status).toBe('completed');
  expect(res.modelVersion).toBe('1');
  // The registry itself, not only the result: one version, no duplicate from the retries.
  expect(await registeredVersions(mlflow.url, 'mlflow-outage-model')).toEqual(['1']);
  const running = servingProcesses(stateDir);
  expect(running.modelServers).toHaveLength(1);
  expect(running.routers).toHaveLength(1);
}, 480_000);
