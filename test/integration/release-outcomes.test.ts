// README promises with no test of their own, end to end on the real dev server, real MLflow and real
// worker processes: the gate against the champion, a failed smoke test rolling back (whatever the
// webhook does), MLflow staying away longer than `mlflow.max_unavailable`, and the SlipwayStage
// search attribute on a namespace that lacks it.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PipelineSpecInput } from '../../src/spec/schema.js';
import { freePort } from '../../src/system/ports.js';
import { findTool, packageRoot } from '../../src/system/tools.js';
import { STAGE_KEY } from '../../src/workflows/context.js';
import { statusQuery } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const exec = promisify(execFile);
const address = inject('temporalAddress');
const cliEnv = { TEMPORAL_ADDRESS: address };
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-outcomes-'));

interface Hook {
  server: Server;
  url: string;
  /** Events whose request arrived, answered or not. */
  events: string[];
}

/** A webhook receiver (a real HTTP server standing in for Slack) that answers 200, or never. */
async function startHook(answer: boolean): Promise<Hook> {
  const events: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      events.push((JSON.parse(data) as { slipway: { event: string } }).slipway.event);
      if (answer) res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, events };
}

let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;
let ok: Hook;
let hanging: Hook;
let closedUrl: string;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  [ok, hanging] = await Promise.all([startHook(true), startHook(false)]);
  closedUrl = `http://127.0.0.1:${await freePort()}/hook`; // nothing listens there
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], {
    MLFLOW_TRACKING_URI: inject('mlflowUrl'),
    HOOK_OK: ok.url,
    HOOK_HANGING: hanging.url,
    HOOK_CLOSED: closedUrl,
  });
});
afterAll(async () => {
  for await (const wf of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    if (wf.workflowId.includes(':outcomes')) await client.workflow.getHandle(wf.workflowId).terminate('test cleanup');
  }
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  ok?.server.closeAllConnections();
  ok?.server.close();
  hanging?.server.closeAllConnections();
  hanging?.server.close();
  await connection?.close();
});

/** Starts a release with the CLI and returns its result (a failed run's error is returned, not thrown). */
async function release(spec: string, label: string, queueFlags: string[] = []): Promise<{ id: string; result: ReleaseResult | WorkflowFailedError }> {
  const started = await runCli(['run', spec, '--release', label, '--json', ...queueFlags], cliEnv);
  expect(started.code, started.stderr).toBe(0);
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  const result = await client.workflow
    .getHandle(id)
    .result()
    .then(
      (r) => r as ReleaseResult,
      (e: unknown) => {
        if (e instanceof WorkflowFailedError) return e;
        throw e;
      },
    );
  return { id, result };
}

const completed = (r: ReleaseResult | WorkflowFailedError): ReleaseResult => {
  if (r instanceof WorkflowFailedError) throw r;
  return r;
};

describe('release outcomes on the real stack', () => {
  const deployPort = endpointPort();
  const smokePrompt = 'smoke canary: say hello';
  /** The pipeline's spec; `breaksOnSmoke` serves a model that answers everything but the smoke prompt. */
  const spec = async (over: Partial<PipelineSpecInput> & { breaksOnSmoke?: boolean } = {}) => {
    const { breaksOnSmoke, ...rest } = over;
    const serve = [process.execPath, '--import', 'tsx', path.join(packageRoot, 'test', 'support', 'openai-server-main.ts'), '--port', '{port}', '--model', '{model}'];
    return writeSpec({
      name: 'outcomes',
      deployPort: await deployPort,
      smoke: { cases: [{ prompt: smokePrompt, max_tokens: 16 }] },
      serve: { command: breaksOnSmoke ? [...serve, '--fail-prompt', smokePrompt] : serve, cwd: packageRoot },
      ...rest,
    });
  };
  let first: ReleaseResult;

  it('the gate fails a release that regresses against the champion by more than max_regression_vs_champion', async () => {
    first = completed((await release(await spec(), 'r1')).result);
    expect(first.status).toBe('completed');
    expect(first.report.variants[0]?.metrics?.accuracy).toBe(1);

    // Two of three answers right: above min_accuracy, but 1/3 below the champion with 0.1 allowed.
    const dataset = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-outcomes-data-')), 'eval.jsonl');
    const rows = [{ prompt: '2+2', expected: '2+2' }, { prompt: '3+5', expected: '3+5' }, { prompt: 'capital of France', expected: 'Paris' }];
    writeFileSync(dataset, rows.map((r) => JSON.stringify({ ...r, scorer: 'contains' })).join('\n') + '\n');
    const worse = await spec({ evaluate: { dataset, concurrency: 2 }, gates: { min_accuracy: 0.5, max_regression_vs_champion: 0.1 } });
    const { id, result } = await release(worse, 'regressed');
    expect(result).toBeInstanceOf(WorkflowFailedError);
    expect(((result as WorkflowFailedError).cause as ApplicationFailure).type).toBe('GateFailed');
    const status = await client.workflow.getHandle(id).query(statusQuery);
    expect(status.stage).toBe('gate-failed');
    const lines = status.variants[0]!.gate!.lines;
    expect(lines.find((l) => l.metric === 'accuracy' && l.rule === 'threshold')).toMatchObject({ passed: true, threshold: 0.5 });
    const vsChampion = lines.find((l) => l.metric === 'accuracy' && l.rule === 'champion')!;
    expect(vsChampion.passed).toBe(false);
    expect(vsChampion.threshold).toBeCloseTo(0.9, 9);
    expect(vsChampion.value).toBeCloseTo(2 / 3, 5); // the harness rounds to 6 places
    // Nothing deployed: the first release still serves.
    const health = await fetch(`http://127.0.0.1:${await deployPort}/health`);
    expect(health.headers.get('x-slipway-version')).toBe(first.deployedVersion);
  });

  it.each([
    ['a webhook that answers', 'HOOK_OK', 'r2'],
    ['a webhook that never answers', 'HOOK_HANGING', 'r3'],
    ['a webhook nothing listens on', 'HOOK_CLOSED', 'r4'],
  ])('a failed smoke test rolls back to the previous version, with %s', async (_, webhookEnv, label) => {
    expect(first?.status).toBe('completed');
    const { id, result } = await release(await spec({ breaksOnSmoke: true, notify: { webhook_env: webhookEnv } }), label);
    const res = completed(result);
    expect(res.status).toBe('rolled-back');
    expect(res.report.smoke).toMatchObject({ passed: false });
    expect(res.report.rollback).toMatchObject({ by: 'system:smoke', restoredVersion: first.deployedVersion });
    const health = await fetch(`http://127.0.0.1:${await deployPort}/health`);
    expect(health.headers.get('x-slipway-version')).toBe(first.deployedVersion);
    const status = await client.workflow.getHandle(id).query(statusQuery);
    expect(status.stage).toBe('rolled-back');
    if (webhookEnv === 'HOOK_OK') expect(ok.events).toEqual(['deployed', 'rolled-back']);
    // Sent, never answered: the run went on regardless.
    if (webhookEnv === 'HOOK_HANGING') expect(hanging.events).toContain('rolled-back');
  });
});

describe('MLflow away for longer than mlflow.max_unavailable', () => {
  it('the release waits, retrying, then fails naming the MLflow step', async () => {
    const queues = ['--task-queue', 'outcomes-nomlflow', '--serving-task-queue', 'outcomes-nomlflow-serving', '--gpu-task-queue', 'outcomes-nomlflow-gpu'];
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const lonely = await startWorkerProcess(['--address', address, '--state-dir', path.join(stateDir, 'nomlflow'), ...queues], { MLFLOW_TRACKING_URI: nobody });
    try {
      const spec = writeSpec({ name: 'outcomes-nomlflow', deployPort: await endpointPort(), mlflow: { max_unavailable: '8s' } });
      const { id, result } = await release(spec, 'away', queues);
      expect(result).toBeInstanceOf(WorkflowFailedError);
      const status = await client.workflow.getHandle(id).query(statusQuery);
      expect(status.stage).toBe('failed');
      expect(status.error).toMatch(/^mlflowOpenRelease failed: /);
      // It waited: the activity was tried again, and given up because max_unavailable ran out.
      const history = await client.workflow.getHandle(id).fetchHistory();
      const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
      expect(Math.max(...started)).toBeGreaterThanOrEqual(2);
      const { RETRY_STATE_TIMEOUT } = proto.temporal.api.enums.v1.RetryState;
      const gaveUp = history.events!.map((e) => e.activityTaskFailedEventAttributes?.retryState ?? e.activityTaskTimedOutEventAttributes?.retryState);
      expect(gaveUp).toContain(RETRY_STATE_TIMEOUT);
    } finally {
      await lonely.kill();
    }
  });
});

describe('SlipwayStage on a namespace that lacks it', () => {
  it('a worker registers it at start, and `slipway list --stage` works there', async () => {
    const namespace = `slipway-outcomes-${Date.now().toString(36)}`;
    await exec(findTool('temporal'), ['operator', 'namespace', 'create', '--address', address, '--namespace', namespace]);
    const attributes = async () => (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
    expect(await attributes()).not.toHaveProperty(STAGE_KEY.name);

    // A new namespace takes a moment to reach every service of the dev server.
    let nsWorker: WorkerProcess | undefined;
    await waitFor(
      async () => {
        nsWorker = await startWorkerProcess(['--address', address, '--namespace', namespace, '--state-dir', path.join(stateDir, 'ns')], { MLFLOW_TRACKING_URI: inject('mlflowUrl') }).catch(() => undefined);
        return nsWorker !== undefined;
      },
      `a worker on namespace ${namespace}`,
      90_000,
      1000,
    );
    try {
      expect(await attributes()).toHaveProperty(STAGE_KEY.name);
      const list = await runCli(['list', '--namespace', namespace, '--stage', 'awaiting-approval', '--json'], cliEnv);
      expect(list.stderr).toBe('');
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
    } finally {
      await nsWorker?.kill();
    }
  });
});
