// Approvals through the CLI are audited and answered with the stage they led to, and a newer
// release that passes its gate supersedes an older one still waiting for approval.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readState, deploymentDir } from '../../src/activities/deploy/state.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { PipelineStatus, Stage } from '../../src/workflows/status.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { recordHistory } from '../support/histories.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-approvals-'));
const cliEnv = { TEMPORAL_ADDRESS: address };

let connection: Connection;
let slipway: SlipwayClient;
let worker: WorkerProcess | undefined;

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

async function atStage(id: string, stage: Stage): Promise<PipelineStatus> {
  for (let i = 0; i < 400; i++) {
    const view = await slipway.status(id).catch(() => undefined);
    if (view?.stage === stage) return view;
    await sleep(250);
  }
  throw new Error(`${id} never reached ${stage}`);
}

async function start(spec: string, release: string): Promise<string> {
  const res = await runCli(['run', spec, '--release', release, '--json'], cliEnv);
  expect(res.code).toBe(0);
  return (JSON.parse(res.stdout) as { workflowId: string }).workflowId;
}

describe('approvals on the real dev server', () => {
  it('keeps CLI refusals, answers an approval with the next stage, and supersedes an older waiting release', async () => {
    const spec = writeSpec({ name: 'approvals', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' } });
    const older = await start(spec, 'a1');
    await atStage(older, 'awaiting-approval');

    const refused = await runCli(['approve', older, '--as', 'mallory', '--reason', 'let me in'], cliEnv);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/mallory is not an approver/);
    const audited = await slipway.status(older);
    expect(audited.stage).toBe('awaiting-approval');
    expect(audited.approval?.refused).toEqual([expect.objectContaining({ by: 'mallory', reason: expect.stringMatching(/not an approver/) })]);

    // Waiting, it holds no model server: its candidate stopped after evaluation.
    expect(readState(deploymentDir(stateDir, 'approvals')).versions['approvals-a1-default']).toBeUndefined();
    // A newer release passes its gate: the older one stops waiting.
    const newer = await start(spec, 'a2');
    const r1 = (await slipway.result(older)) as ReleaseResult;
    expect(r1.status).toBe('superseded');
    expect(r1.report.stage).toBe('superseded');
    expect(r1.approval).toMatchObject({ decision: 'superseded', by: newer });
    await recordHistory(slipway.handle(older), 'superseded-while-awaiting-approval');
    await atStage(newer, 'awaiting-approval');

    // The answer to a counted approval shows where it led, not the wait it ended.
    const approved = await runCli(['approve', newer, '--as', 'alice', '--reason', 'ok', '--json'], cliEnv);
    expect(approved.code).toBe(0);
    expect((JSON.parse(approved.stdout) as PipelineStatus).stage).not.toBe('awaiting-approval');
    expect(((await slipway.result(newer)) as ReleaseResult).status).toBe('completed');
  });

  it('an approval sent while no worker runs is sent again under its update id, and counted once when a worker is back', async () => {
    const spec = writeSpec({ name: 'approve-later', deployPort: await endpointPort(), approval: { approvers: ['alice', 'bob'], min_approvals: 2, timeout: '1h' } });
    const id = await start(spec, 'l1');
    await atStage(id, 'awaiting-approval');
    await worker!.kill();
    worker = undefined;
    // Each call gives up after 2 s with no worker to take the update; the client sends it again.
    const impatient = new SlipwayClient(new Client({ connection }), {}, { updateAttemptMs: 2_000 });
    const vote = impatient.approve(id, { approver: 'alice', reason: 'while the worker restarts' }, { movedOn: false });
    await sleep(7_000);
    worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
    const status = await vote;
    expect(status.approval?.votes?.map((v) => v.by)).toEqual(['alice']);
    expect(status.approval?.refused).toEqual([]);
    expect(status.stage).toBe('awaiting-approval');
    // The same update id went out several times; the history holds one update, accepted once.
    const history = await slipway.handle(id).fetchHistory();
    expect(history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    await slipway.cancel(id);
  });

  it('status says when a queue the release waits on has no worker', async () => {
    const spec = writeSpec({ name: 'unpolled', deployPort: await endpointPort() });
    const res = await runCli(['run', spec, '--release', 'u1', '--gpu-task-queue', 'nobody-polls-gpu', '--json'], cliEnv);
    const id = (JSON.parse(res.stdout) as { workflowId: string }).workflowId;
    try {
      let text = '';
      for (let i = 0; i < 100 && !text.includes('no worker polls'); i++) {
        text = (await runCli(['status', id], cliEnv)).stdout;
        if (!text.includes('no worker polls')) await sleep(250);
      }
      expect(text).toContain('no worker polls nobody-polls-gpu (the gpu role): start one with `slipway worker --roles gpu --gpu-task-queue nobody-polls-gpu`');
      expect(text).not.toMatch(/no worker polls slipway /);
    } finally {
      await slipway.cancel(id);
    }
  });
});
