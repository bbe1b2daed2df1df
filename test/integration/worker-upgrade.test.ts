// Upgrading workers while releases run, with Temporal Worker Versioning: 20 releases start on build
// n1 (10 wait for approval, 10 monitor), workers of build n2 — whose workflow code changed in a way
// that cannot replay n1's histories — are rolled out and made current, and all 20 finish correctly on
// n1 while a new release runs on n2. Replaying an n1 history with n2's code shows what the pinning
// prevented. Real dev server, real worker processes (n1: the CLI; n2: in this process, to load the
// changed workflow code), real jobs and model servers.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createRoleActivities } from '../../src/activities/index.js';
import { mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import { loadSpec } from '../../src/client/spec-file.js';
import { slipwayPlugin } from '../../src/plugin.js';
import { resolveRuntime } from '../../src/runtime.js';
import { findTool } from '../../src/system/tools.js';
import { deploymentOptions } from '../../src/worker.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const run = promisify(execFile);
const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-upgrade-'));
const deploymentName = `upgrade-${Date.now()}`;
const queues = { orchestration: 'upgrade', serving: 'upgrade-serving', gpu: 'upgrade-gpu' };
const queueFlags = ['--task-queue', queues.orchestration, '--serving-task-queue', queues.serving, '--gpu-task-queue', queues.gpu];
const nextWorkflows = path.resolve('test/fixtures/upgrade/next-release-workflows.ts');
const RELEASES = 20;

let connection: Connection;
let slipway: SlipwayClient;
let n1: WorkerProcess | undefined;
let n2: { workers: Worker[]; running: Promise<unknown>; connection: NativeConnection } | undefined;

const setCurrent = (buildId: string) =>
  run(findTool('temporal'), ['worker', 'deployment', 'set-current-version', '--address', address, '--deployment-name', deploymentName, '--build-id', buildId, '--yes']);

/** Retries while the server has not yet seen the version's pollers on every queue. */
async function makeCurrent(buildId: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await setCurrent(buildId);
      return;
    } catch (err) {
      if (i >= 60) throw err;
      await sleep(500);
    }
  }
}

beforeAll(async () => {
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }), queues);
  n1 = await startWorkerProcess(['--address', address, '--state-dir', path.join(dir, 'state'), '--gpus', '4', ...queueFlags, '--deployment-name', deploymentName, '--build-id', 'n1'], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
  await makeCurrent('n1');
});
afterAll(async () => {
  for (const w of n2?.workers ?? []) if (w.getState() === 'RUNNING') w.shutdown();
  await n2?.running.catch(() => undefined);
  await n2?.connection.close();
  await n1?.kill();
  await stopLocalDeployments(path.join(dir, 'state'));
  await connection?.close();
});

/** Build n2's workers: serving and gpu as Slipway ships them, orchestration with the changed workflows. */
async function startN2(): Promise<void> {
  const native = await NativeConnection.connect({ address });
  const env = { ...process.env, MLFLOW_TRACKING_URI: inject('mlflowUrl') };
  const runtime = resolveRuntime({ stateDir: path.join(dir, 'state'), mlflow: mlflowConfigFromEnv(env), env });
  const versioned = deploymentOptions({ name: deploymentName, buildId: 'n2' });
  const workers = [
    await Worker.create({ connection: native, taskQueue: queues.orchestration, workflowsPath: nextWorkflows, activities: createRoleActivities('orchestration', runtime), ...versioned }),
    await Worker.create({ connection: native, taskQueue: queues.serving, plugins: [slipwayPlugin({ ...runtime, role: 'serving' })], ...versioned }),
    await Worker.create({ connection: native, taskQueue: queues.gpu, plugins: [slipwayPlugin({ ...runtime, role: 'gpu' })], ...versioned }),
  ];
  n2 = { workers, connection: native, running: Promise.all(workers.map((w) => w.run())) };
}

async function waitAll(ids: string[], done: (v: ReleaseView) => boolean, what: string): Promise<void> {
  let last = '';
  for (const deadline = Date.now() + 240_000; Date.now() < deadline; await sleep(500)) {
    const views = await Promise.all(ids.map((id) => slipway.status(id).catch(() => undefined)));
    if (views.every((v) => v && done(v))) return;
    last = views.map((v) => v?.stage ?? '?').join(' ');
  }
  throw new Error(`timed out waiting for ${what}; stages: ${last}`);
}

const buildOf = async (id: string) => (await slipway.handle(id).describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;

it('finishes 20 releases started on n1 after n2, with incompatible workflow code, becomes current', async () => {
  const env = { TEMPORAL_ADDRESS: address };
  // Started through the client API (the CLI's own code path), so that all 20 are under way at once.
  const ids: string[] = [];
  for (let i = 0; i < RELEASES; i++) {
    const waiting = i % 2 === 0;
    const spec = writeSpec({
      name: `upgrade-${i}`,
      deployPort: await endpointPort(),
      ...(waiting ? { approval: { approvers: ['alice'], timeout: '1h' } } : { monitor: { duration: '75s', interval: '5s' } }),
      train: { command: [process.execPath, path.resolve('test/fixtures/jobs/counting-job.mjs')], params: { steps: 3, 'step-ms': 10 } },
    });
    ids.push((await slipway.start(loadSpec(spec), { release: 'v1' })).workflowId);
  }
  const waitingIds = ids.filter((_, i) => i % 2 === 0);
  const monitoringIds = ids.filter((_, i) => i % 2 === 1);
  await waitAll(waitingIds, (v) => v.stage === 'awaiting-approval', 'approval waits');
  await waitAll(monitoringIds, (v) => v.stage === 'monitoring', 'monitors');

  // The rollout: n2's workers join, n2 becomes current. n1's workers stay until their releases drain.
  const before = await slipway.handle(waitingIds[0]!).fetchHistory();
  await startN2();
  await makeCurrent('n2');

  expect((await runCli(['approve', waitingIds[0]!, '--as', 'alice'], env)).code).toBe(0);
  for (const id of waitingIds.slice(1)) await slipway.approve(id, { approver: 'alice' });
  const results = await Promise.all(ids.map(async (id) => (await slipway.result(id)) as ReleaseResult));
  expect(results.map((r) => r.status)).toEqual(ids.map(() => 'completed'));
  for (const id of ids) expect(await buildOf(id)).toBe('n1');

  // A release started now runs n2's code (its history opens with n2's new timer).
  const fresh = writeSpec({ name: 'upgrade-fresh', deployPort: await endpointPort(), train: { command: [process.execPath, path.resolve('test/fixtures/jobs/counting-job.mjs')], params: { steps: 3, 'step-ms': 10 } } });
  const started = await runCli(['run', fresh, '--release', 'v2', '--json', ...queueFlags], env);
  const freshId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  expect(((await slipway.result(freshId)) as ReleaseResult).status).toBe('completed');
  expect(await buildOf(freshId)).toBe('n2');
  const events = (await slipway.handle(freshId).fetchHistory()).events ?? [];
  expect(events.some((e) => e.timerStartedEventAttributes)).toBe(true);

  // Without pinning, n2's workers would have taken over these releases and failed to replay them.
  const replay = await Worker.runReplayHistory({ workflowsPath: nextWorkflows, replayName: 'n2 on an n1 history' }, before, waitingIds[0]).then(
    () => null,
    (err: unknown) => err,
  );
  expect(replay).toBeInstanceOf(Error);
  expect((replay as Error).name).toBe('DeterminismViolationError');
}, 480_000);
