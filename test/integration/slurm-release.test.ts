// Releases whose training runs on a real single-node Slurm cluster (this file starts it): a
// `slipway worker --slurm-conf` process submits the job with sbatch, and Slurm's own job list
// (squeue) is the witness of what was submitted and how it ended.
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import type { SlipwayQueues } from '../../src/queues.js';
import { startSlurmCluster, type RunningSlurm } from '../../src/stack/slurm.js';
import { findTool, packageRoot } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec, writeTinyLlmSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const queues: SlipwayQueues = { orchestration: 'slurm-orch', serving: 'slurm-serving', gpu: 'slurm-gpu' };
const queueFlags = ['--task-queue', queues.orchestration, '--serving-task-queue', queues.serving, '--gpu-task-queue', queues.gpu];
const countingJob = path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-slurm-worker-'));
const clusterDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-slurm-cluster-'));

let cluster: RunningSlurm;
let worker: WorkerProcess;
let connection: Connection;
let slipway: SlipwayClient;

const startWorker = async () => {
  // --gpus: jobs this worker follows at once; on a cluster they wait in Slurm's queue, not in Temporal's.
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir, '--slurm-conf', cluster.conf, '--gpus', '4', ...queueFlags], {
    MLFLOW_TRACKING_URI: inject('mlflowUrl'),
    // The fake model server listens on loopback: evaluation servers on this one-node cluster are reached there.
    SLIPWAY_SERVE_HOST: '127.0.0.1',
  });
};

beforeAll(async () => {
  cluster = await startSlurmCluster({ stateDir: clusterDir });
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }), queues);
  await startWorker();
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
  await cluster?.stop();
  for (const dir of [stateDir, clusterDir]) rmSync(dir, { recursive: true, force: true });
});

/** Slurm's own list of jobs whose name starts with `prefix` (finished ones stay listed: MinJobAge is a day). */
function slurmJobs(prefix: string): Array<{ id: string; name: string; state: string }> {
  const out = execFileSync('squeue', ['-h', '-t', 'all', '-o', '%i|%j|%T'], { env: { ...process.env, SLURM_CONF: cluster.conf }, encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'))
    .map(([id, name, state]) => ({ id: id!, name: name!, state: state! }))
    .filter((j) => j.name.startsWith(prefix));
}

async function startRelease(name: string, release: string, params: Record<string, number>, train: Record<string, unknown> = {}): Promise<string> {
  const spec = writeSpec({ name, deployPort: await endpointPort(), train: { backend: 'slurm', command: [process.execPath, countingJob], params, heartbeat_timeout: '5s', ...train } });
  const res = await runCli(['run', spec, '--release', release, '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
  expect(res.stderr).toBe('');
  return (JSON.parse(res.stdout) as { workflowId: string }).workflowId;
}

async function waitForStatus(id: string, done: (v: ReleaseView) => boolean, what: string): Promise<ReleaseView> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const view = await slipway.status(id).catch(() => undefined);
    if (view && done(view)) return view;
    await sleep(250);
  }
  throw new Error(`${id}: timed out waiting for ${what}`);
}


describe('releases trained on Slurm (train.backend: slurm)', () => {
  it('the tiny-llm example, few steps, releases end to end: trained as one sbatch job through the Python helper, evaluated, deployed', async () => {
    const deployPort = await endpointPort();
    const spec = writeTinyLlmSpec({ name: 'slurm-tiny', deployPort, backend: 'slurm' });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect(res.deployedVersion).toBe('slurm-tiny-r1-default');
    const [variant] = res.report.variants;
    expect(variant).toMatchObject({ stage: 'done', cachedTraining: false });
    // The helper stored the model in the worker's artifact store from inside the Slurm job.
    expect(variant!.artifact?.uri).toBe(`file://${path.join(stateDir, 'artifacts', 'slurm-tiny-r1-default', 'model.pt')}`);
    expect(variant!.gate?.passed).toBe(true);
    const jobs = slurmJobs('slurm-tiny-r1');
    expect(jobs.map((j) => j.state)).toEqual(['COMPLETED']);
    const log = readFileSync(path.join(stateDir, 'slurm-jobs', jobs[0]!.name, `slurm-${jobs[0]!.id}.log`), 'utf8');
    expect(log).toMatch(/\{"type":"checkpoint","step":10,"path":"[^"]+","uri":"file:\/\/[^"]+\/checkpoints\/ckpt-000010\.pt","sha256":"[0-9a-f]{64}"/);
    expect(log).toContain('"type":"progress","step":20,"total_steps":20');
    // The stable endpoint serves the released model.
    const answer = await fetch(`http://127.0.0.1:${deployPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-llm', messages: [{ role: 'user', content: 'What is 2+3?' }], max_tokens: 4 }),
    });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).not.toBe('');
  }, 300_000);

  it('completes with the Slurm job’s artifact: one submission, COMPLETED', async () => {
    const id = await startRelease('slurm-ok', 'r1', { steps: 10, 'step-ms': 20, 'checkpoint-every': 5 });
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    const jobs = slurmJobs('slurm-ok-r1');
    expect(jobs.map((j) => j.state)).toEqual(['COMPLETED']);
    // The model the release deployed is the one the Slurm job wrote into its output folder.
    expect(res.report.variants[0]!.artifactPath).toBe(path.join(stateDir, 'slurm-jobs', jobs[0]!.name, 'output', 'model.json'));
  });

  it('SIGKILL of the gpu worker while the Slurm job runs: the restarted worker follows the same job, which delivers the artifact', async () => {
    const id = await startRelease('slurm-kill', 'r1', { steps: 300, 'step-ms': 100, 'checkpoint-every': 10 });
    await waitForStatus(id, (v) => v.progress.some((p) => (p.step ?? 0) >= 5), 'training progress from the Slurm job');
    const [job] = slurmJobs('slurm-kill-r1');
    expect(job?.state).toBe('RUNNING');
    await worker.kill('SIGKILL');
    await startWorker();
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    // Exactly one submission: the retry attached to the live job instead of queueing a second one.
    expect(slurmJobs('slurm-kill-r1')).toEqual([{ ...job, state: 'COMPLETED' }]);
    expect(res.report.variants[0]!.resumedFromStep ?? null).toBeNull();
  });

  it('evaluate.serve_on: cluster runs the evaluation server as its own sbatch job, cancelled once evaluated; the serving role serves the winner', async () => {
    const deployPort = await endpointPort();
    const spec = writeSpec({
      name: 'slurm-served',
      deployPort,
      train: { backend: 'slurm', command: [process.execPath, countingJob], params: { steps: 4, 'step-ms': 10 }, heartbeat_timeout: '5s' },
      evaluate: { dataset: 'eval.jsonl', serve_on: 'cluster' },
    });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const res = (await slipway.result((JSON.parse(started.stdout) as { workflowId: string }).workflowId)) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect(res.report.variants[0]).toMatchObject({ stage: 'done', gate: { passed: true }, metrics: { accuracy: 1 } });
    expect(slurmJobs('slurm-served-r1').map((j) => [j.name, j.state]).sort()).toEqual([
      ['slurm-served-r1-default', 'COMPLETED'],
      ['slurm-served-r1-default-serve', 'CANCELLED'],
    ]);
    const health = await fetch(`http://127.0.0.1:${deployPort}/health`);
    expect(health.headers.get('x-slipway-version')).toBe(res.deployedVersion);
  }, 240_000);

  it('a release terminated from outside while its cluster evaluation server runs: the gpu worker cancels that sbatch job', async () => {
    // The row `2+2` is answered after two minutes, so the evaluation is still running when the release ends.
    const slowServe = [process.execPath, '--import', 'tsx', path.join(packageRoot, 'test', 'support', 'openai-server-main.ts'), '--port', '{port}', '--model', '{model}', '--slow-prompt', '2+2', '--slow-ms', '120000'];
    const spec = writeSpec({
      name: 'slurm-orphan',
      deployPort: await endpointPort(),
      train: { backend: 'slurm', command: [process.execPath, countingJob], params: { steps: 4, 'step-ms': 10 }, heartbeat_timeout: '5s' },
      serve: { command: slowServe, cwd: packageRoot },
      evaluate: { dataset: 'eval.jsonl', serve_on: 'cluster', request_timeout_ms: 180_000 },
    });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    await waitForStatus(id, (v) => v.variants[0]?.stage === 'evaluating', 'the evaluation against the cluster server');
    expect(slurmJobs('slurm-orphan-r1-default-serve').map((j) => j.state)).toEqual(['RUNNING']);

    // The workflow can stop nothing any more: only the worker's reconciler (every 5 s) can.
    execFileSync(findTool('temporal'), ['workflow', 'terminate', '--workflow-id', id, '--address', address, '--reason', 'test: terminated from outside']);
    // Squeue may show the job cancelled a moment before the reconciler, its cancel call returned, forgets its record.
    const records = path.join(stateDir, 'cluster-servers');
    const deadline = Date.now() + 60_000;
    while ((slurmJobs('slurm-orphan-r1-default-serve')[0]?.state !== 'CANCELLED' || readdirSync(records).length > 0) && Date.now() < deadline) await sleep(250);
    expect(slurmJobs('slurm-orphan-r1-default-serve').map((j) => j.state)).toEqual(['CANCELLED']);
    expect(readdirSync(records)).toEqual([]);
  }, 240_000);

  it('cancelling the release cancels its Slurm job: squeue shows it CANCELLED', async () => {
    const id = await startRelease('slurm-cancel', 'r1', { steps: 100000, 'step-ms': 50 });
    await waitForStatus(id, (v) => v.progress.some((p) => (p.step ?? 0) >= 3), 'training progress from the Slurm job');
    expect(slurmJobs('slurm-cancel-r1').map((j) => j.state)).toEqual(['RUNNING']);
    expect((await runCli(['cancel', id], { TEMPORAL_ADDRESS: address })).code).toBe(0);
    const deadline = Date.now() + 60_000;
    while (slurmJobs('slurm-cancel-r1')[0]?.state !== 'CANCELLED' && Date.now() < deadline) await sleep(250);
    expect(slurmJobs('slurm-cancel-r1').map((j) => j.state)).toEqual(['CANCELLED']);
  });

  it('a job asking for more GPUs than the cluster has fails the release at once, typed', async () => {
    const id = await startRelease('slurm-gpus', 'r1', { steps: 3 }, { resources: { gpus: 1 } });
    const err = await slipway.result(id).then(() => null, (e: unknown) => e);
    const cause = (err as { cause?: { message?: string } } | null)?.cause;
    expect(`${cause?.message} ${JSON.stringify(cause)}`).toContain('Requested node configuration is not available');
    // Slurm records the refused submission as FAILED (BadConstraints); nothing ever ran or waits.
    expect(slurmJobs('slurm-gpus-r1').map((j) => j.state)).toEqual(['FAILED']);
  });

  it("while the only slot is busy a release waits pending with Slurm's reason in slipway status, then completes", async () => {
    const busy = await startRelease('slurm-busy', 'r1', { steps: 100000, 'step-ms': 50 }, { resources: { cpus: cluster.cpus } });
    await waitForStatus(busy, (v) => v.progress.some((p) => (p.step ?? 0) >= 1), 'the busy job to run');
    const waiting = await startRelease('slurm-wait', 'r1', { steps: 3, 'step-ms': 5 }, { resources: { cpus: cluster.cpus }, timeout: '1m' });
    const cli = async () => (await runCli(['status', waiting], { TEMPORAL_ADDRESS: address })).stdout;
    let shown = '';
    const deadline = Date.now() + 60_000;
    while (!/pending \((Resources|Priority)\)/.test(shown) && Date.now() < deadline) shown = await cli();
    expect(shown).toMatch(/trainModel: pending \((Resources|Priority)\)/);
    expect(slurmJobs('slurm-wait-r1').map((j) => j.state)).toEqual(['PENDING']);
    expect((await runCli(['cancel', busy], { TEMPORAL_ADDRESS: address })).code).toBe(0);
    expect(((await slipway.result(waiting)) as ReleaseResult).status).toBe('completed');
    expect(slurmJobs('slurm-wait-r1').map((j) => j.state)).toEqual(['COMPLETED']);
  });
});
