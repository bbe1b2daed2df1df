// Chaos: the worker is SIGKILLed in the middle of a promote, and again in the middle of a rollback,
// at the worst moment: the new state is decided (written with its `switching` intent) but Traefik
// still routes to the old version. A test hook (SLIPWAY_TEST_PAUSE_AT, inert in production) holds
// the deploy target at that point so the kill lands there every time. After each kill a new worker
// starts: its reconciler finishes the switch, the retried activity finds it done, and the release
// goes on. At the end the router, the state file and the running model servers agree.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { isAlive } from '../../src/activities/deploy/processes.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { answeredBy, isPausedAt, pausedAt, readDeployment, registeredVersions, servingProcesses, waitForRelease } from './support.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-chaos-switch-'));
const name = 'chaos-switch';
const env = { TEMPORAL_ADDRESS: address };
let port: number;
let worker: WorkerProcess | undefined;
let connection: Connection;
let slipway: SlipwayClient;

/** A worker process; `pauseAt` names the test hook's point, or none. */
const startWorker = (pauseAt?: string) =>
  startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl'), SLIPWAY_TEST_PAUSE_AT: pauseAt ?? '' });

/** SIGKILL the worker where the hook holds it, and start the next one. */
async function crashWorker(next?: string): Promise<void> {
  await worker!.kill('SIGKILL');
  rmSync(pausedAt(stateDir, name), { force: true });
  worker = await startWorker(next);
}

beforeAll(async () => {
  port = await endpointPort();
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }));
  worker = await startWorker('promote:after-intent');
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

async function startRelease(release: string, monitor: { duration: string; interval: string }): Promise<string> {
  const started = await runCli(['run', writeSpec({ name, deployPort: port, operators: ['ops'], monitor }), '--release', release, '--json'], env);
  expect(started.code).toBe(0);
  return (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
}

let v1: string;
let v2: string;
let r2: string;

it('finishes a promote whose worker was killed after deciding the switch and before moving traffic', async () => {
  // The first release only passes the hook: it is let go at once, and becomes the live version.
  const r1 = await startRelease('r1', { duration: '2s', interval: '1s' });
  await waitFor(() => isPausedAt(stateDir, name), 'the first promote to reach the hook', 120_000);
  rmSync(pausedAt(stateDir, name));
  expect(await slipway.result(r1)).toMatchObject({ status: 'completed' });
  v1 = readDeployment(stateDir, name).live!;

  r2 = await startRelease('r2', { duration: '10m', interval: '1s' });
  await waitFor(() => isPausedAt(stateDir, name), 'the second promote to reach the hook', 120_000);
  const half = readDeployment(stateDir, name);
  v2 = half.live!;
  // Half switched: the state says v2, the router still sends everyone to v1.
  expect(half).toMatchObject({ previous: v1, switching: { op: 'promote', stop: [] } });
  expect(await answeredBy(port)).toBe(v1);

  await crashWorker('rollback:after-intent');
  // Done means committed: traffic on v2 and the intent cleared.
  await waitFor(async () => readDeployment(stateDir, name).switching === null, 'the new worker to finish the switch to v2', 60_000, 250);
  expect(await answeredBy(port)).toBe(v2);
  expect(readDeployment(stateDir, name)).toMatchObject({ live: v2, previous: v1 });
  // The retried promote finds the switch done; the release goes on to monitor v2.
  await waitForRelease(slipway, r2, (v) => v.stage === 'monitoring' && (v.monitor?.samples ?? 0) >= 1, 'monitoring after the retried promote');
});

it('finishes a rollback whose worker was killed after deciding it and before moving traffic', async () => {
  const order = slipway.rollback(r2, { requestedBy: 'ops', reason: 'chaos: roll back while the worker dies' });
  await waitFor(() => isPausedAt(stateDir, name), 'the rollback to reach the hook', 60_000);
  expect(readDeployment(stateDir, name)).toMatchObject({ live: v1, previous: null, switching: { op: 'rollback', stop: [v2] } });
  expect(await answeredBy(port)).toBe(v2);
  const v2pid = readDeployment(stateDir, name).versions[v2]!.pid!;

  await crashWorker();
  await waitFor(() => readDeployment(stateDir, name).switching === null, 'the new worker to finish the rollback to v1', 60_000, 250);
  expect(await answeredBy(port)).toBe(v1);
  expect(isAlive(v2pid)).toBe(false);

  expect(await order).toMatchObject({ stage: 'rolled-back' });
  expect(await slipway.result(r2)).toMatchObject({ status: 'rolled-back', report: { rollback: { restoredVersion: v1, by: 'ops' } } });
  // Router, state file and servers agree: v1 alone, serving every request.
  const state = readDeployment(stateDir, name);
  expect(state).toMatchObject({ live: v1, previous: null, switching: null });
  expect(Object.keys(state.versions)).toEqual([v1]);
  for (let i = 0; i < 5; i++) expect(await answeredBy(port)).toBe(v1);
  const running = servingProcesses(stateDir);
  expect(running.modelServers).toHaveLength(1);
  expect(running.modelServers[0]).toMatch(new RegExp(`^${state.versions[v1]!.pid}:`));
  expect(running.routers).toHaveLength(1);
  // One registered model version per release, none twice.
  expect(await registeredVersions(inject('mlflowUrl'), `${name}-model`)).toEqual(['1', '2']);
});
