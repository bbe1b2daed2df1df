// The checks live inside the workflows, so they hold however a run was started: releases started by
// a schedule and by `slipway trigger` refuse strangers' rollbacks, `rollbackRelease` started with
// the Temporal CLI checks the release's own spec, and hand-started releases get the spec's defaults
// or fail at once with InvalidSpec.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findTool } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { PipelineStatus } from '../../src/workflows/status.js';
import { pythonMlflow } from '../mlflow/support.js';
import { recordHistory } from '../support/histories.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const exec = promisify(execFile);
const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-checks-'));
const cliEnv = { TEMPORAL_ADDRESS: address };

let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  await runCli(['schedule', 'delete', 'checks-nightly'], cliEnv);
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

const temporal = (...args: string[]) => exec(findTool('temporal'), [...args, '--address', address]);

async function failureType(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('rollbacks of releases started by a schedule and by slipway trigger', () => {
  it('refuse strangers (CLI and a hand-started rollbackRelease); an operator rolls back and it shows in status and MLflow', async () => {
    const port = await endpointPort();
    const spec = writeSpec({ name: 'checks', deployPort: port, operators: ['ops'], ci: { data: ['eval.jsonl'] } });
    const specDir = path.dirname(spec);

    // Release 1 from a CI change, release 2 from the schedule.
    const triggered = await runCli(['trigger', '--spec', spec, '--changed', path.join(specDir, 'eval.jsonl'), '--wait', '--json'], cliEnv);
    expect(triggered.code).toBe(0);
    const first = (JSON.parse(triggered.stdout) as { started: Array<{ workflowId: string }> }).started[0]!.workflowId;
    expect((await runCli(['schedule', 'create', 'checks-nightly', '--spec', spec, '--cron', '0 2 * * *', '--json'], cliEnv)).code).toBe(0);
    expect((await runCli(['schedule', 'trigger', 'checks-nightly'], cliEnv)).code).toBe(0);
    let second = '';
    for (let i = 0; i < 100 && !second; i++) {
      for await (const wf of client.workflow.list({ query: "TemporalScheduledById = 'slipway:checks-nightly'" })) second = wf.workflowId;
      if (!second) await new Promise((r) => setTimeout(r, 200));
    }
    expect(second).toMatch(/^release:checks-model:scheduled-checks-nightly-/);
    const r2 = (await client.workflow.getHandle(second).result()) as ReleaseResult;
    expect(r2.status).toBe('completed');
    const r1 = (await client.workflow.getHandle(first).result()) as ReleaseResult;

    // A stranger is refused through the CLI, for both kinds of start.
    for (const id of [first, second]) {
      const refused = await runCli(['rollback', id, '--as', 'mallory'], cliEnv);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toMatch(/mallory may not roll back this release \(allowed: ops\)/);
    }
    // ...and when starting rollbackRelease by hand: the workflow reads who may from the release.
    await temporal('workflow', 'start', '--type', 'rollbackRelease', '--task-queue', 'slipway', '--workflow-id', `stranger:${second}`, '--input', JSON.stringify({ releaseWorkflowId: second, requestedBy: 'mallory', reason: 'x' }));
    const notAllowed = await failureType(client.workflow.getHandle(`stranger:${second}`).result());
    expect(notAllowed.type).toBe('NotAllowed');
    // Nothing was touched: the endpoint still serves release 2.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).headers.get('x-slipway-version')).toBe(r2.deployedVersion);

    // The operator's rollback is recorded like an in-run one.
    const ok = await runCli(['rollback', second, '--as', 'ops', '--reason', 'drill', '--json'], cliEnv);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).headers.get('x-slipway-version')).toBe(r1.deployedVersion);
    const status = JSON.parse((await runCli(['status', second, '--json'], cliEnv)).stdout) as PipelineStatus;
    expect(status.stage).toBe('rolled-back');
    expect(status.rollback).toMatchObject({ by: 'ops', reason: 'drill', automatic: false, restoredVersion: r1.deployedVersion });
    const mlflow = (await pythonMlflow(
      inject('mlflowUrl'),
      `
run = client.get_run(args[0])
out = {'tags': run.data.tags, 'champion': client.get_model_version_by_alias('checks-model', 'champion').version}`,
      [r2.report.mlflow!.runId],
    )) as { tags: Record<string, string>; champion: string };
    expect(mlflow.tags).toMatchObject({ 'slipway.rollback.by': 'ops', 'slipway.rollback.reason': 'drill', 'slipway.outcome': 'rolled-back' });
    expect(mlflow.champion).toBe(r1.modelVersion);
    const { runId } = await client.workflow.getHandle(second).describe();
    await recordHistory(client.workflow.getHandle(`rollback:${second}:${runId}`), 'rollback-release-by-operator');
    await recordHistory(client.workflow.getHandle(second), 'scheduled-release-completed');
    // The rollback order of this run is done; a second one is refused, not repeated.
    const again = await runCli(['rollback', second, '--as', 'ops'], cliEnv);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already rolled back by ops/);
  });
});

describe('a release started by hand with the Temporal CLI', () => {
  const minimal = (port: number) => {
    // Sections with defaults (smoke, gates, mlflow, approval, train.timeout ...) are left out.
    const full = JSON.parse(readFileSync(writeSpec({ name: 'by-hand', deployPort: port }), 'utf8')) as Record<string, unknown>;
    const train = full.train as Record<string, unknown>;
    return { name: 'by-hand', model: full.model, train: { command: train.command, params: train.params }, serve: full.serve, evaluate: full.evaluate, deploy: { port }, monitor: { duration: '2s', interval: '1s' } };
  };

  it('runs on its spec with the defaults applied', async () => {
    const port = await endpointPort();
    const spec = minimal(port);
    const specDir = path.dirname(writeSpec({ name: 'by-hand', deployPort: port }));
    await temporal('workflow', 'start', '--type', 'releasePipeline', '--task-queue', 'slipway', '--workflow-id', 'release:by-hand-model:hand1', '--input', JSON.stringify({ spec, specDir }));
    const res = (await client.workflow.getHandle('release:by-hand-model:hand1').result()) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect(res.release).toBe('hand1');
  });

  it('fails at once with InvalidSpec naming the field, and no workflow task ever fails', async () => {
    const spec = { ...minimal(await endpointPort()), gates: { min_accuracy: 2 } };
    await temporal('workflow', 'start', '--type', 'releasePipeline', '--task-queue', 'slipway', '--workflow-id', 'release:by-hand-model:bad', '--input', JSON.stringify({ spec, specDir: '/tmp' }));
    const handle = client.workflow.getHandle('release:by-hand-model:bad');
    const failure = await failureType(handle.result());
    expect(failure.type).toBe('InvalidSpec');
    expect(failure.message).toMatch(/spec\.gates\.min_accuracy: .*<=1/);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
    expect(events.some((e) => e.workflowExecutionFailedEventAttributes)).toBe(true);

    // A hand-made continue-as-new state is checked too, instead of looping.
    await temporal('workflow', 'start', '--type', 'releasePipeline', '--task-queue', 'slipway', '--workflow-id', 'release:by-hand-model:carried', '--input', JSON.stringify({ spec: minimal(1), specDir: '/tmp', carried: { status: {} } }));
    const carried = await failureType(client.workflow.getHandle('release:by-hand-model:carried').result());
    expect(carried.type).toBe('InvalidInput');
    expect(carried.message).toMatch(/carried\.status\./);
  });
});

describe('backends and targets chosen by name', () => {
  it('a name no worker registers fails the release with a typed error listing the registered names', async () => {
    for (const [field, override, type] of [
      ['train.backend', { train: { command: ['true'], backend: 'slurm' } }, 'UnknownJobBackend'],
      ['deploy.target', { deploy: { port: 1, target: 'kserve' } }, 'UnknownDeployTarget'],
    ] as const) {
      const specFile = writeSpec({ name: 'by-name', deployPort: await endpointPort() });
      const spec = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, Record<string, unknown>>;
      for (const [section, values] of Object.entries(override)) spec[section] = { ...spec[section], ...values };
      // The fixture's 3 s heartbeat timeout is for crash tests; here a busy machine must not time the job out first.
      spec.train = { ...spec.train, heartbeat_timeout: '30s' };
      const id = `release:by-name-model:${type}`;
      await client.workflow.start('releasePipeline', { taskQueue: 'slipway', workflowId: id, args: [{ spec, specDir: path.dirname(specFile) }] });
      const err = await client.workflow.getHandle(id).result().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      let inner = err as Error;
      while (inner.cause instanceof Error) inner = inner.cause;
      expect(inner).toBeInstanceOf(ApplicationFailure);
      expect(inner).toMatchObject({ type, nonRetryable: true });
      expect(inner.message).toContain(`${field}: no ${type.replace('Unknown', '')} named`);
      expect(inner.message).toContain('(registered: local)');
    }
  });
});
