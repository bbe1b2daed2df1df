// One release across three hosts: three real `slipway worker` processes — orchestration, serving,
// gpu — each with its own state dir and no shared directory; the model crosses through MLflow's
// artifact store. Placement is read back from the run's history (queue and worker identity).
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import type { Role, SlipwayQueues } from '../../src/queues.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { pythonMlflow } from '../mlflow/support.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { recordHistory } from '../support/histories.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const queues: SlipwayQueues = { orchestration: 'hosts-orch', serving: 'hosts-serving', gpu: 'hosts-gpu' };
const queueFlags = ['--task-queue', queues.orchestration, '--serving-task-queue', queues.serving, '--gpu-task-queue', queues.gpu];
const cliEnv = { TEMPORAL_ADDRESS: address };
const workerEnv = { MLFLOW_TRACKING_URI: inject('mlflowUrl') };
const countingJob = path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs');

const stateDirs = Object.fromEntries((['orchestration', 'serving', 'gpu'] as Role[]).map((r) => [r, mkdtempSync(path.join(os.tmpdir(), `slipway-host-${r}-`))])) as Record<Role, string>;
const hosts: Partial<Record<Role, WorkerProcess>> = {};
let connection: Connection;
let slipway: SlipwayClient;

const startHost = async (role: Role) => {
  hosts[role] = await startWorkerProcess(['--address', address, '--roles', role, '--state-dir', stateDirs[role], '--artifacts', 'mlflow', ...queueFlags], workerEnv);
};

beforeAll(async () => {
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }), queues);
  for (const role of ['orchestration', 'serving', 'gpu'] as Role[]) await startHost(role);
});
afterAll(async () => {
  await Promise.all(Object.values(hosts).map((h) => h.kill()));
  await stopLocalDeployments(stateDirs.serving);
  await connection?.close();
});

async function startRelease(spec: string, release: string): Promise<string> {
  const res = await runCli(['run', spec, '--release', release, '--json', ...queueFlags], cliEnv);
  expect(res.stderr).toBe('');
  return (JSON.parse(res.stdout) as { workflowId: string }).workflowId;
}

/** Which queue and which worker process ran each activity type of a run. */
async function placement(handle: WorkflowHandle): Promise<Record<string, { queues: Set<string>; pids: Set<number> }>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, { type: string; queue: string }>();
  const out: Record<string, { queues: Set<string>; pids: Set<number> }> = {};
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const { type, queue } = scheduled.get(String(started.scheduledEventId))!;
      out[type] ??= { queues: new Set(), pids: new Set() };
      out[type].queues.add(queue);
      out[type].pids.add(Number((started.identity ?? '').split('@')[0]));
    }
  }
  return out;
}

async function waitFor(id: string, done: (v: ReleaseView) => boolean, what: string): Promise<ReleaseView> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const view = await slipway.status(id).catch(() => undefined);
    if (view && done(view)) return view;
    await sleep(250);
  }
  throw new Error(`${id}: timed out waiting for ${what}`);
}

describe('a release across three hosts that share no disk', () => {
  it('trains on gpu, serves and checks on serving, tracks on orchestration; the model crosses through MLflow', async () => {
    const port = await endpointPort();
    const spec = writeSpec({ name: 'hosts', deployPort: port, operators: ['ops'] });
    const first = await startRelease(spec, 'h1');
    const r1 = (await slipway.result(first)) as ReleaseResult;
    expect(r1.status).toBe('completed');
    expect(r1.report.smoke?.passed).toBe(true);
    expect(r1.report.monitor?.samples).toBeGreaterThan(0);

    await recordHistory(slipway.handle(first), 'three-hosts-release');
    // Each activity ran on its role's queue, in the process of that role.
    const where = await placement(slipway.handle(first));
    const pid = (role: Role) => hosts[role]!.child.pid!;
    const expectOn = (activity: string, role: Role) => {
      expect(where[activity], activity).toBeDefined();
      expect([...where[activity]!.queues], activity).toEqual([queues[role]]);
      expect([...where[activity]!.pids], activity).toEqual([pid(role)]);
    };
    expectOn('trainModel', 'gpu');
    for (const a of ['deployCandidate', 'evaluateModel', 'stopCandidate', 'promoteVersion', 'smokeTest', 'sampleProductionMetrics'].filter((a) => where[a])) expectOn(a, 'serving');
    for (const a of ['mlflowOpenRelease', 'mlflowRecordCandidate', 'mlflowRecordRun', 'mlflowRegisterRelease']) expectOn(a, 'orchestration');

    // The artifact is a URI in MLflow's store, fetched and verified by the hosts that needed the bytes.
    const artifact = r1.report.variants[0]!.artifact!;
    expect(artifact.uri).toMatch(/^mlflow-artifacts:\//);
    const cached = (role: Role) => existsSync(path.join(stateDirs[role], 'cache', 'artifacts', artifact.sha256));
    expect(cached('serving')).toBe(true);
    expect(cached('orchestration')).toBe(true);
    // Each piece of state lives with its owner only.
    expect(existsSync(path.join(stateDirs.gpu, 'jobs'))).toBe(true);
    expect(existsSync(path.join(stateDirs.serving, 'jobs'))).toBe(false);
    expect(readdirSync(path.join(stateDirs.serving, 'deployments'))).toEqual(['hosts']);
    expect(existsSync(path.join(stateDirs.gpu, 'deployments'))).toBe(false);
    expect(existsSync(path.join(stateDirs.orchestration, 'deployments'))).toBe(false);

    // The registered model version's file came through MLflow too: same bytes as trained.
    const logged = (await pythonMlflow(
      inject('mlflowUrl'),
      `
import hashlib, mlflow
path = mlflow.artifacts.download_artifacts(run_id=args[0], artifact_path='model')
import os
f = [os.path.join(path, n) for n in os.listdir(path)][0]
out = hashlib.sha256(open(f, 'rb').read()).hexdigest()`,
      [r1.report.mlflow!.runId],
    )) as string;
    expect(logged).toBe(artifact.sha256);

    // A second release, then a rollback after completion: it runs on the serving host.
    const second = await startRelease(spec, 'h2');
    const r2 = (await slipway.result(second)) as ReleaseResult;
    expect(r2.status).toBe('completed');
    const back = await runCli(['rollback', second, '--as', 'ops', '--reason', 'drill', '--json'], cliEnv);
    expect(back.stderr).toBe('');
    expect(JSON.parse(back.stdout)).toMatchObject({ restoredVersion: r1.deployedVersion, rolledBackVersion: r2.deployedVersion });
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.headers.get('x-slipway-version')).toBe(r1.deployedVersion);
    const rollbackRun = slipway.client.workflow.getHandle(`rollback:${second}:${(await slipway.handle(second).describe()).runId}`);
    expect((await placement(rollbackRun)).rollbackDeployment?.pids).toEqual(new Set([pid('serving')]));
  });

  it('killing the gpu host mid-training resumes from the stored checkpoint', async () => {
    const spec = writeSpec({
      name: 'hosts-crash',
      deployPort: await endpointPort(),
      train: { command: [process.execPath, countingJob], params: { steps: 60, 'step-ms': 100, 'checkpoint-every': 5 }, heartbeat_timeout: '3s' },
    });
    const id = await startRelease(spec, 'crash');
    const seen = await waitFor(id, (v) => v.progress.some((p) => Boolean(p.checkpoint) && (p.step ?? 0) >= 15), 'a heartbeated checkpoint');
    const checkpointStep = Math.max(...seen.progress.map((p) => p.step ?? 0));
    await hosts.gpu!.kill('SIGKILL');
    await startHost('gpu');
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    const resumed = res.report.variants[0]!.resumedFromStep!;
    expect(resumed).toBeGreaterThanOrEqual(5);
    expect(resumed).toBeLessThanOrEqual(checkpointStep);
  });
});
