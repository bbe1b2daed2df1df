// Chaos: the Temporal server is SIGKILLed three times during one release — while the model trains,
// while the release waits for approval, and while it monitors — and each time started again on the
// same database file and port. The release completes, and nothing ran or was recorded twice: one
// training job, one MLflow parent run, one registered model version, no process left but the live
// deployment. Real dev server, real worker process, real MLflow, real subprocess job and model server.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import { startTemporalDevServer, type RunningTemporal } from '../../src/stack/temporal-server.js';
import { freePort } from '../../src/system/ports.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { pythonMlflow } from '../mlflow/support.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { processesMentioning, runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { endpointPort } from '../support/ports.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-chaos-temporal-'));
const stateDir = path.join(dir, 'state');
const counter = path.join(dir, 'job-starts.txt');
let port: number;
let temporal: RunningTemporal | undefined;
let worker: WorkerProcess | undefined;

const startTemporal = async () => {
  temporal = await startTemporalDevServer({ port, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') });
};

/** SIGKILL, as a crash or an OOM kill would: no shutdown, no flush. */
async function crashTemporal(): Promise<void> {
  process.kill(-temporal!.process.child.pid!, 'SIGKILL');
  await temporal!.process.exit;
}

beforeAll(async () => {
  port = await freePort();
  await startTemporal();
  worker = await startWorkerProcess(['--address', temporal!.address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await temporal?.stop();
});

/** Status through a fresh connection each time: the server may have been replaced since the last call. */
async function waitFor(id: string, done: (v: ReleaseView) => boolean, what: string): Promise<ReleaseView> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const connection = await Connection.connect({ address: temporal!.address }).catch(() => undefined);
    if (connection) {
      try {
        const view = await new SlipwayClient(new Client({ connection })).status(id);
        if (done(view)) return view;
      } catch {
        // The server is still starting.
      } finally {
        await connection.close();
      }
    }
    await sleep(250);
  }
  throw new Error(`${id}: timed out waiting for ${what}`);
}

it('completes a release whose Temporal server is killed during training, approval and monitoring, with nothing done twice', async () => {
  const model = 'chaos-temporal-model';
  const spec = writeSpec({
    name: 'chaos-temporal',
    deployPort: await endpointPort(),
    approval: { approvers: ['alice'], timeout: '1h' },
    // Slow enough to be killed mid-way; a heartbeat timeout longer than the outage, so the server
    // does not give the running job up for lost while it was itself down.
    train: { command: [process.execPath, path.resolve('test/fixtures/jobs/counting-job.mjs')], params: { steps: 40, 'step-ms': 100, 'checkpoint-every': 10 }, heartbeat_timeout: '60s', env: { COUNTING_JOB_COUNTER: counter } },
    monitor: { duration: '8s', interval: '1s' },
  });
  const env = { TEMPORAL_ADDRESS: temporal!.address };
  const started = await runCli(['run', spec, '--release', 'r1', '--json'], env);
  expect(started.code).toBe(0);
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;

  await waitFor(id, (v) => v.progress.some((p) => p.activity === 'trainModel' && (p.step ?? 0) >= 5), 'training under way');
  await crashTemporal();
  await sleep(2_000); // the job goes on; its heartbeats fail meanwhile
  await startTemporal();

  await waitFor(id, (v) => v.stage === 'awaiting-approval', 'awaiting-approval');
  await crashTemporal();
  await sleep(2_000);
  await startTemporal();
  expect((await runCli(['approve', id, '--as', 'alice', '--reason', 'after two crashes'], env)).code).toBe(0);

  await waitFor(id, (v) => v.stage === 'monitoring' && (v.monitor?.samples ?? 0) >= 1, 'monitoring');
  await crashTemporal();
  await sleep(2_000);
  await startTemporal();

  const done = await waitFor(id, (v) => v.execution.status !== 'RUNNING', 'the end of the release');
  expect(done.execution.status).toBe('COMPLETED');
  const connection = await Connection.connect({ address: temporal!.address });
  const result = (await new SlipwayClient(new Client({ connection })).result(id)) as ReleaseResult;
  await connection.close();
  expect(result).toMatchObject({ status: 'completed', approval: { decision: 'approved', by: 'alice' } });

  // One training job ran, once.
  expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(1);
  // One MLflow parent run for the release, one registered version of the model.
  const mlflow = (await pythonMlflow(
    inject('mlflowUrl'),
    `
exp = client.get_experiment_by_name(args[0])
runs = client.search_runs([exp.experiment_id], filter_string="tags.\`slipway.workflow_id\` = '%s'" % args[1])
out = {'parents': len([r for r in runs if 'mlflow.parentRunId' not in r.data.tags]),
       'versions': [v.version for v in client.search_model_versions("name = '%s'" % args[2])]}`,
    ['chaos-temporal', id, model],
  )) as { parents: number; versions: string[] };
  expect(mlflow).toEqual({ parents: 1, versions: ['1'] });
  // Nothing left running but the live deployment: no job, no candidate server.
  expect(processesMentioning('counting-job.mjs').filter((p) => p.includes(dir))).toEqual([]);
  const servers = processesMentioning(stateDir).filter((p) => p.includes('openai-server-main'));
  expect(servers).toHaveLength(1);
});
