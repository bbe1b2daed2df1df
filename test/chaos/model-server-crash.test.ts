// Chaos: the live model server is SIGKILLed while its release monitors it. The monitor sees the
// endpoint go unhealthy and, after breaches_to_rollback consecutive samples, rolls back to the
// previous release's version on its own: the endpoint answers again, served by the old version, and
// MLflow's champion moves back. Real dev server, worker process, MLflow and model servers.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { DeploymentState } from '../../src/activities/deploy/state.js';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { pythonMlflow } from '../mlflow/support.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-chaos-server-'));
let worker: WorkerProcess | undefined;
let connection: Connection;
let slipway: SlipwayClient;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }));
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

async function waitFor(id: string, done: (v: ReleaseView) => boolean, what: string): Promise<ReleaseView> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
    const v = await slipway.status(id).catch(() => undefined);
    if (v && done(v)) return v;
  }
  throw new Error(`${id}: timed out waiting for ${what}`);
}

it('rolls back to the previous version on its own when the live model server dies during monitoring', async () => {
  const name = 'chaos-server';
  const port = await endpointPort();
  const env = { TEMPORAL_ADDRESS: address };
  const first = writeSpec({ name, deployPort: port, monitor: { duration: '2s', interval: '1s' } });
  const r1 = await runCli(['run', first, '--release', 'r1', '--wait', '--json'], env);
  expect(r1.code).toBe(0);

  const breaches = 3;
  const second = writeSpec({ name, deployPort: port, monitor: { duration: '10m', interval: '1s', breaches_to_rollback: breaches } });
  const started = await runCli(['run', second, '--release', 'r2', '--json'], env);
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  const monitoring = await waitFor(id, (v) => v.stage === 'monitoring' && (v.monitor?.samples ?? 0) >= 1, 'monitoring');
  const live = monitoring.deployment!;
  expect(live.previousVersion).not.toBeNull();

  const state = JSON.parse(readFileSync(path.join(stateDir, 'deployments', name, 'state.json'), 'utf8')) as DeploymentState;
  const pid = state.versions[live.version]!.pid!;
  process.kill(-pid, 'SIGKILL'); // the server and anything in its group, as an OOM kill would

  const res = (await slipway.result(id)) as ReleaseResult;
  expect(res.status).toBe('rolled-back');
  expect(res.report.rollback).toMatchObject({ automatic: true, by: 'system:monitor', restoredVersion: live.previousVersion });
  expect(res.report.rollback!.reason).toMatch(new RegExp(`^${breaches} consecutive breaches: endpoint unhealthy`));
  // The breaches were consecutive samples after the kill, nothing earlier counted.
  expect(res.report.monitor).toMatchObject({ consecutiveBreaches: breaches, breaches });

  const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
  expect(answer.status).toBe(200);
  const after = JSON.parse(readFileSync(path.join(stateDir, 'deployments', name, 'state.json'), 'utf8')) as DeploymentState;
  expect(after.live).toBe(live.previousVersion);
  const champion = (await pythonMlflow(inject('mlflowUrl'), `out = client.get_model_version_by_alias(args[0], 'champion').version`, [`${name}-model`])) as string;
  expect(champion).toBe('1');
});
