// A release waiting for approval holds no model server: its candidate stops after evaluation and
// starts again from its artifact at deploy. `approval.keep_candidate_warm` keeps it running instead.
// Real dev server, real worker process, real model server processes.
import { Client, Connection } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deploymentDir, readState } from '../../src/activities/deploy/state.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { loadSpec } from '../../src/client/spec-file.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { Stage } from '../../src/workflows/status.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { recordHistory } from '../support/histories.js';
import { processesMentioning, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-waiting-'));
const approval = { approvers: ['alice'], timeout: '1h' };

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

async function atStage(id: string, stage: Stage): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await slipway.status(id).catch(() => undefined))?.stage === stage) return;
    await sleep(250);
  }
  throw new Error(`${id} never reached ${stage}`);
}

/** Model server processes (the fake server, started with `--model <artifact>`) of `version` in our state dir. */
function modelServers(version: string): number[] {
  const record = readState(deploymentDir(stateDir, pipelineOf(version))).versions[version];
  return processesMentioning('openai-server-main.ts')
    .filter((line) => record !== undefined && line.includes(`--port ${record.port} `))
    .map((line) => Number(line.split(':')[0]));
}
/** Pids of the fake model servers whose command line names a file under `dir` (their `--model`). */
const serversIn = (dir: string) => processesMentioning(dir).filter((p) => p.includes('openai-server-main.ts')).map((p) => Number(p.split(':')[0]));
const pipelineOf = (version: string) => version.split('-r')[0]!;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function runToApproval(name: string, keepWarm?: boolean) {
  const spec = writeSpec({ name, deployPort: await endpointPort(), mlflow: { enabled: false }, approval: keepWarm === undefined ? approval : { ...approval, keep_candidate_warm: keepWarm } });
  const { workflowId } = await slipway.start(loadSpec(spec), { release: 'r1' });
  await atStage(workflowId, 'awaiting-approval');
  return { workflowId, version: `${name}-r1-default` };
}

describe('nothing held while a release waits for approval', () => {
  it('stops the candidate before the wait and deploys the approved release from its artifact', async () => {
    const { workflowId, version } = await runToApproval('cold');
    const dir = deploymentDir(stateDir, 'cold');
    expect(readState(dir).versions[version]).toBeUndefined();
    expect(serversIn(stateDir)).toEqual([]);
    const waiting = await slipway.status(workflowId);
    expect(waiting.variants[0]?.endpoint).toBeUndefined();

    await slipway.approve(workflowId, { approver: 'alice', reason: 'ok' });
    const res = (await slipway.result(workflowId)) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect(res.deployedVersion).toBe(version);
    const live = readState(dir);
    expect(live.live).toBe(version);
    const record = live.versions[version]!;
    // Started again from the artifact the serving host fetched by URI: the same bytes that were trained and evaluated.
    const artifact = res.report.variants[0]!.artifact!;
    expect(sha256(record.artifactPath)).toBe(artifact.sha256);
    expect(modelServers(version)).toEqual([record.pid]);
    const answer = await fetch(`${res.report.deployment!.endpoint}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-slipway-version')).toBe(version);
    await recordHistory(slipway.handle(workflowId), 'cold-candidate-approved');
  });

  it('with approval.keep_candidate_warm the candidate keeps running through the wait and that same server goes live', async () => {
    const { workflowId, version } = await runToApproval('warm', true);
    const waitingRecord = readState(deploymentDir(stateDir, 'warm')).versions[version]!;
    expect(modelServers(version)).toEqual([waitingRecord.pid]);
    // The same look that found none for the cold release finds this one.
    expect(serversIn(stateDir)).toContain(waitingRecord.pid);

    await slipway.approve(workflowId, { approver: 'alice', reason: 'ok' });
    const res = (await slipway.result(workflowId)) as ReleaseResult;
    expect(res.status).toBe('completed');
    const live = readState(deploymentDir(stateDir, 'warm'));
    expect(live.live).toBe(version);
    expect(live.versions[version]!.pid).toBe(waitingRecord.pid);
  });
});
