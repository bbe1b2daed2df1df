import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isAlive } from '../../src/activities/jobs/process-group.js';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import { findTool } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { Stage } from '../../src/workflows/status.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { recordHistory } from '../support/histories.js';
import { pythonMlflow } from '../mlflow/support.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { endpointPort } from '../support/ports.js';

const run = promisify(execFile);
const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-worker-'));
const workerArgs = ['--address', address, '--state-dir', stateDir];
const workerEnv = { MLFLOW_TRACKING_URI: inject('mlflowUrl') };
const cliEnv = { TEMPORAL_ADDRESS: address };

let connection: Connection;
let slipway: SlipwayClient;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }));
  worker = await startWorkerProcess(workerArgs, workerEnv);
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

async function waitFor(id: string, done: (v: ReleaseView) => boolean, what: string, timeoutMs = 90_000): Promise<ReleaseView> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseView | undefined;
  while (Date.now() < deadline) {
    last = await slipway.status(id).catch(() => undefined);
    if (last && done(last)) return last;
    await sleep(250);
  }
  throw new Error(`${id}: timed out waiting for ${what}; last stage ${last?.stage}`);
}
const atStage = (id: string, stage: Stage) => waitFor(id, (v) => v.stage === stage, stage);

/** What the official MLflow Python client sees of a release: its runs, metrics and the champion. */
async function mlflowView(experiment: string, workflowId: string, model: string) {
  return (await pythonMlflow(
    inject('mlflowUrl'),
    `
exp = client.get_experiment_by_name(args[0])
runs = client.search_runs([exp.experiment_id], filter_string="tags.\`slipway.workflow_id\` = '%s'" % args[1])
parent = [r for r in runs if 'mlflow.parentRunId' not in r.data.tags][0]
child = client.search_runs([exp.experiment_id], filter_string="tags.\`mlflow.parentRunId\` = '%s'" % parent.info.run_id)[0]
champion = client.get_model_version_by_alias(args[2], 'champion')
out = {
  'parentRunId': parent.info.run_id,
  'tags': parent.data.tags,
  'trainLossSteps': [m.step for m in client.get_metric_history(child.info.run_id, 'train_loss')],
  'evalAccuracy': child.data.metrics.get('eval_accuracy'),
  'child': {'status': child.info.status, 'gate': child.data.tags.get('slipway.gate'), 'variant': child.data.tags.get('slipway.variant')},
  'artifacts': sorted(a.path for a in client.list_artifacts(parent.info.run_id)),
  'parentStatus': parent.info.status,
  'champion': {'version': champion.version, 'runId': champion.run_id},
}`,
    [experiment, workflowId, model],
  )) as {
    parentRunId: string;
    tags: Record<string, string>;
    trainLossSteps: number[];
    evalAccuracy: number;
    child: { status: string; gate: string; variant: string };
    artifacts: string[];
    parentStatus: string;
    champion: { version: string; runId: string };
  };
}

/** After a failed test: SIGKILL a job's process group that may still run. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function startRelease(spec: string, release: string): Promise<string> {
  const res = await runCli(['run', spec, '--release', release, '--json'], cliEnv);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return (JSON.parse(res.stdout) as { workflowId: string }).workflowId;
}

describe('release pipeline on the real dev server, with a real worker process', () => {
  const approval = { approvers: ['alice'], timeout: '1h' };

  it('runs to completion with approval sent by the real `temporal workflow signal`, then by `slipway approve`', async () => {
    const port = await endpointPort();
    const spec = writeSpec({ name: 'approve-flow', deployPort: port, approval, operators: ['ops'] });

    const first = await startRelease(spec, 'r1');
    expect((await runCli(['run', spec, '--release', 'r1', '--json'], cliEnv)).stdout).toContain('"attached": true');
    await atStage(first, 'awaiting-approval');
    expect((await runCli(['list', '--stage', 'awaiting-approval', '--json'], cliEnv)).stdout).toContain(first);
    await run(findTool('temporal'), ['workflow', 'signal', '--address', address, '--workflow-id', first, '--name', 'approve', '--input', '{"approver":"alice","reason":"from the UI"}']);
    const r1 = (await slipway.result(first)) as ReleaseResult;
    expect(r1.status).toBe('completed');
    expect(r1.approval).toMatchObject({ decision: 'approved', by: 'alice', reason: 'from the UI' });
    expect(r1.report.smoke?.passed).toBe(true);
    const chat = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
    expect(chat.status).toBe(200);
    expect(chat.headers.get('x-slipway-version')).toBe(r1.deployedVersion);
    await recordHistory(slipway.handle(first), 'approved-by-signal');
    const m1 = await mlflowView('approve-flow', first, 'approve-flow-model');
    expect(m1.tags).toMatchObject({ 'slipway.workflow_id': first, 'slipway.approval.by': 'alice', 'slipway.outcome': 'completed' });
    expect(m1.trainLossSteps.length).toBeGreaterThan(1);
    expect(m1.evalAccuracy).toBe(1);
    expect(m1.champion).toEqual({ version: r1.modelVersion, runId: m1.parentRunId });

    const second = await startRelease(spec, 'r2');
    await atStage(second, 'awaiting-approval');
    const refused = await runCli(['approve', second, '--as', 'mallory'], cliEnv);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/mallory is not an approver/);
    const ok = await runCli(['approve', second, '--as', 'alice', '--reason', 'cli'], cliEnv);
    expect(ok.code).toBe(0);
    const r2 = (await slipway.result(second)) as ReleaseResult;
    expect(r2.status).toBe('completed');
    expect(r2.report.deployment?.previousVersion).toBe(r1.deployedVersion);
    expect((await runCli(['status', second], cliEnv)).stdout).toMatch(/approval: approved by alice/);
    await recordHistory(slipway.handle(second), 'approved-by-cli-batched-mlflow');
    const m2 = await mlflowView('approve-flow', second, 'approve-flow-model');
    expect(m2.champion).toEqual({ version: r2.modelVersion, runId: m2.parentRunId });
    // The whole bookkeeping, however many activities it took: tags, both runs closed, the gate
    // report, the spec and the model beside the loss curve and the eval metrics.
    expect(m2.tags).toMatchObject({ 'slipway.workflow_id': second, 'slipway.approval.by': 'alice', 'slipway.approval.decision': 'approved', 'slipway.outcome': 'completed' });
    expect(m2).toMatchObject({ parentStatus: 'FINISHED', child: { status: 'FINISHED', gate: 'passed', variant: 'default' }, artifacts: ['gate-report.txt', 'model', 'spec.json'], evalAccuracy: 1 });
    expect(m2.trainLossSteps.length).toBeGreaterThan(1);

    // r1 is no longer live: rolling it back would undo r2, so it is refused.
    const stale = await runCli(['rollback', first, '--as', 'ops'], cliEnv);
    expect(stale.code).toBe(4);
    expect(stale.stderr).toMatch(/is not live in approve-flow .*would undo a later release/);
    expect((await runCli(['rollback', second, '--as', 'mallory'], cliEnv)).stderr).toMatch(/mallory may not roll back/);

    // Monitoring is over, so the rollback goes through a rollbackRelease workflow.
    const back = await runCli(['rollback', second, '--as', 'ops', '--reason', 'bad answers', '--json'], cliEnv);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ restoredVersion: r1.deployedVersion, rolledBackVersion: r2.deployedVersion });
    const after = await fetch(`http://127.0.0.1:${port}/health`);
    expect(after.headers.get('x-slipway-version')).toBe(r1.deployedVersion);
    expect((await mlflowView('approve-flow', first, 'approve-flow-model')).champion.version).toBe(r1.modelVersion);
  });

  it('after the worker is killed, the retry on a new worker kills the orphaned job and resumes from the last heartbeated checkpoint', async () => {
    // The first run is slow enough (60 s) to outlive its worker; once resumed it is quick.
    const spec = writeSpec({
      name: 'worker-crash',
      deployPort: await endpointPort(),
      train: {
        command: [process.execPath, path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs')],
        params: { steps: 600, 'step-ms': 100, 'resumed-step-ms': 2, 'checkpoint-every': 5 },
        heartbeat_timeout: '3s',
      },
    });
    const id = await startRelease(spec, 'crash');
    const progress = await waitFor(id, (v) => v.progress.some((p) => (p.checkpoint ? true : false) && (p.step ?? 0) >= 15), 'a heartbeated checkpoint');
    const checkpointStep = Math.max(...progress.progress.map((p) => p.step ?? 0));
    const jobDir = path.join(stateDir, 'jobs', 'worker-crash-crash-default');
    const orphan = JSON.parse(readFileSync(path.join(jobDir, 'job.pid'), 'utf8')) as { pid: number; startTime: string | null };
    await worker!.kill('SIGKILL');
    // The job runs on without its worker: an orphan the retry must stop, not run beside.
    expect(isAlive(orphan.pid, orphan.startTime)).toBe(true);
    worker = await startWorkerProcess(workerArgs, workerEnv);
    try {
      const res = (await slipway.result(id)) as ReleaseResult;
      expect(res.status).toBe('completed');
      const resumed = res.report.variants[0]!.resumedFromStep;
      expect(resumed).toBeGreaterThanOrEqual(5);
      expect(resumed).toBeLessThanOrEqual(checkpointStep);
      expect(isAlive(orphan.pid, orphan.startTime)).toBe(false);
      expect(readFileSync(path.join(jobDir, 'job.log'), 'utf8')).toContain(`stopped leftover process group ${orphan.pid}`);
    } finally {
      killGroup(orphan.pid);
    }
    await recordHistory(slipway.handle(id), 'worker-crash-resume');
  });

  it('kills the training job when the run is cancelled', async () => {
    const spec = writeSpec({
      name: 'cancel-flow',
      deployPort: await endpointPort(),
      train: { command: [process.execPath, path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs')], params: { steps: 1000, 'step-ms': 100 }, heartbeat_timeout: '3s' },
    });
    const id = await startRelease(spec, 'cancel');
    await waitFor(id, (v) => v.progress.some((p) => (p.step ?? 0) >= 3), 'training progress');
    const pidFile = path.join(stateDir, 'jobs', 'cancel-flow-cancel-default', 'job.pid');
    const { pid, startTime } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; startTime: string | null };
    expect(isAlive(pid, startTime)).toBe(true);
    expect((await runCli(['cancel', id], cliEnv)).code).toBe(0);
    const view = await waitFor(id, (v) => v.execution.status !== 'RUNNING', 'the run to close');
    expect(view.execution.status).toBe('CANCELLED');
    expect(view.stage).toBe('cancelled');
    expect(view.error).toBe('trainModel cancelled');
    expect(isAlive(pid, startTime)).toBe(false);
  });
});
