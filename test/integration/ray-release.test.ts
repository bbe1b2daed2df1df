// Releases whose training runs on a real single-node Ray head (the run's shared one): a
// `slipway worker --ray-address` process submits each job through the Jobs API, and Ray's own job
// list is the witness of what was submitted and how it ended.
import { Client, Connection } from '@temporalio/client';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RayJobsClient } from '../../src/activities/jobs/ray-api.js';
import { SlipwayClient, type ReleaseView } from '../../src/client/slipway-client.js';
import type { SlipwayQueues } from '../../src/queues.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { recordHistory } from '../support/histories.js';
import { RAY_CPUS, useRayHead } from '../support/ray.js';
import { writeSpec, writeTinyLlmSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const queues: SlipwayQueues = { orchestration: 'ray-orch', serving: 'ray-serving', gpu: 'ray-gpu' };
const queueFlags = ['--task-queue', queues.orchestration, '--serving-task-queue', queues.serving, '--gpu-task-queue', queues.gpu];
const countingJob = path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ray-worker-'));
const rayAddress = useRayHead();

let ray: RayJobsClient;
let worker: WorkerProcess;
let connection: Connection;
let slipway: SlipwayClient;

const startWorker = async () => {
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir, '--ray-address', rayAddress(), '--gpus', '2', ...queueFlags], {
    MLFLOW_TRACKING_URI: inject('mlflowUrl'),
    // The fake model server listens on loopback: evaluation servers on this one-node cluster are reached there.
    SLIPWAY_SERVE_HOST: '127.0.0.1',
  });
};

beforeAll(async () => {
  ray = new RayJobsClient(rayAddress());
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }), queues);
  await startWorker();
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Ray's own list of the submissions whose job name starts with `prefix`, in submission order. */
async function rayJobs(prefix: string) {
  return (await ray.list())
    .filter((j) => j.metadata?.slipway_job?.startsWith(prefix))
    .sort((a, b) => (a.start_time ?? 0) - (b.start_time ?? 0))
    .map((j) => ({ id: j.submission_id, name: j.metadata!.slipway_job!, status: j.status }));
}

async function startRelease(name: string, release: string, train: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const spec = writeSpec({ name, deployPort: await endpointPort(), train: { backend: 'ray', command: [process.execPath, countingJob], heartbeat_timeout: '5s', ...train }, ...extra });
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

describe('releases trained on Ray (train.backend: ray)', () => {
  it('the tiny-llm example, few steps, releases end to end: trained as one Ray job through the Python helper, evaluated, deployed', async () => {
    const deployPort = await endpointPort();
    const spec = writeTinyLlmSpec({ name: 'ray-tiny', deployPort, backend: 'ray' });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    expect(res.deployedVersion).toBe('ray-tiny-r1-default');
    const [variant] = res.report.variants;
    expect(variant).toMatchObject({ stage: 'done', cachedTraining: false });
    // The helper stored the model in the worker's artifact store from inside the Ray job.
    expect(variant!.artifact?.uri).toBe(`file://${path.join(stateDir, 'artifacts', 'ray-tiny-r1-default', 'model.pt')}`);
    expect(variant!.metrics?.accuracy).toBeGreaterThanOrEqual(0);
    expect(variant!.gate?.passed).toBe(true);
    const jobs = await rayJobs('ray-tiny-r1');
    expect(jobs.map((j) => j.status)).toEqual(['SUCCEEDED']);
    const log = await ray.logs(jobs[0]!.id);
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

  it('SIGKILL of the gpu worker while the Ray job runs: one submission, and the release completes with its artifact', async () => {
    const id = await startRelease('ray-kill', 'r1', { params: { steps: 300, 'step-ms': 100, 'checkpoint-every': 10 } });
    await waitForStatus(id, (v) => v.progress.some((p) => (p.step ?? 0) >= 5), 'training progress from the Ray job');
    const [job] = await rayJobs('ray-kill-r1');
    expect(job?.status).toBe('RUNNING');
    await worker.kill('SIGKILL');
    await startWorker();
    const res = (await slipway.result(id)) as ReleaseResult;
    expect(res.status).toBe('completed');
    // Exactly one submission: the retry attached to the live job instead of submitting a second one.
    expect(await rayJobs('ray-kill-r1')).toEqual([{ ...job, status: 'SUCCEEDED' }]);
    expect(res.report.variants[0]!.artifactPath).toBe(path.join(stateDir, 'ray-jobs', job!.id, 'output', 'model.json'));
    expect(res.report.variants[0]!.resumedFromStep ?? null).toBeNull();
    await recordHistory(slipway.handle(id), 'ray-worker-crash-reattach');
  });

  it('cancelling the release stops its Ray job: Ray lists it STOPPED', async () => {
    const id = await startRelease('ray-cancel', 'r1', { params: { steps: 100000, 'step-ms': 50 } });
    await waitForStatus(id, (v) => v.progress.some((p) => (p.step ?? 0) >= 3), 'training progress from the Ray job');
    expect((await runCli(['cancel', id], { TEMPORAL_ADDRESS: address })).code).toBe(0);
    const deadline = Date.now() + 60_000;
    while ((await rayJobs('ray-cancel-r1'))[0]?.status !== 'STOPPED' && Date.now() < deadline) await sleep(250);
    expect((await rayJobs('ray-cancel-r1')).map((j) => j.status)).toEqual(['STOPPED']);
  });

  it('parallel variants are one Ray job each; the one that exits non-zero fails alone, with its exit code and log tail', async () => {
    const id = await startRelease('ray-variants', 'r1', { params: { steps: 6, 'step-ms': 20 } }, {
      evaluate: { dataset: 'eval.jsonl', concurrency: 2, max_parallel: 2, variants: [{ name: 'good', params: {} }, { name: 'bad', params: { 'fail-at': 2 } }] },
    });
    const res = (await slipway.result(id)) as ReleaseResult;
    const byName = Object.fromEntries(res.report.variants.map((v) => [v.name, v]));
    expect(byName.good?.stage).toBe('done');
    expect(byName.bad?.stage).toBe('failed');
    expect(JSON.stringify(byName.bad?.error)).toContain('exited with code 3');
    expect(JSON.stringify(byName.bad?.error)).toContain('failing at step 2 as asked');
    const jobs = await rayJobs('ray-variants-r1');
    // The bad variant's job ran once per attempt (a failed job is retried); the good one once.
    expect(jobs.filter((j) => j.name.endsWith('-good')).map((j) => j.status)).toEqual(['SUCCEEDED']);
    expect(new Set(jobs.filter((j) => j.name.endsWith('-bad')).map((j) => j.status))).toEqual(new Set(['FAILED']));
    await recordHistory(slipway.handle(id), 'ray-parallel-variants-one-failed');
  });

  it('evaluate.serve_on: cluster runs each variant\'s evaluation server as its own Ray job, one at a time with max_parallel 1, stopped after its evaluation; the winner is then served by the serving role', async () => {
    const deployPort = await endpointPort();
    const spec = writeSpec({
      name: 'ray-served',
      deployPort,
      train: { backend: 'ray', command: [process.execPath, countingJob], params: { steps: 4, 'step-ms': 10 }, heartbeat_timeout: '5s' },
      evaluate: { dataset: 'eval.jsonl', concurrency: 2, max_parallel: 1, serve_on: 'cluster', variants: [{ name: 'a', params: {} }, { name: 'b', params: { steps: 5 } }] },
    });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const res = (await slipway.result((JSON.parse(started.stdout) as { workflowId: string }).workflowId)) as ReleaseResult;
    expect(res.status).toBe('completed');
    for (const v of res.report.variants) expect(v).toMatchObject({ stage: 'done', gate: { passed: true }, metrics: { accuracy: 1 } });
    const all = (await ray.list()).filter((j) => j.metadata?.slipway_job?.startsWith('ray-served-r1'));
    const servers = all.filter((j) => j.metadata!.slipway_job!.endsWith('-serve')).sort((x, y) => (x.start_time ?? 0) - (y.start_time ?? 0));
    // One server job per variant, each stopped once its evaluation was done.
    expect(servers.map((j) => [j.metadata!.slipway_job, j.status])).toEqual([
      ['ray-served-r1-a-serve', 'STOPPED'],
      ['ray-served-r1-b-serve', 'STOPPED'],
    ]);
    expect(all.filter((j) => !j.metadata!.slipway_job!.endsWith('-serve')).map((j) => j.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    // max_parallel 1: the second server was submitted after the first one ended.
    expect(servers[1]!.start_time!).toBeGreaterThanOrEqual(servers[0]!.end_time!);
    const log = await ray.logs(servers[0]!.submission_id);
    expect(log).toMatch(/\{"type": ?"serving", ?"url": ?"http:\/\/127\.0\.0\.1:\d+"\}/);
    // The serving role started the winner again from its artifact for the stable endpoint.
    const health = await fetch(`http://127.0.0.1:${deployPort}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-slipway-version')).toBe(res.deployedVersion);
  }, 300_000);

  it('an evaluation server job whose server exits before it is healthy fails its variant with the job\'s log tail, and no server job is left running', async () => {
    const spec = writeSpec({
      name: 'ray-broken-serve',
      deployPort: await endpointPort(),
      train: { backend: 'ray', command: [process.execPath, countingJob], params: { steps: 3, 'step-ms': 10 }, heartbeat_timeout: '5s' },
      serve: { command: [process.execPath, '-e', 'process.exit(7)'] },
      evaluate: { dataset: 'eval.jsonl', serve_on: 'cluster' },
    });
    const started = await runCli(['run', spec, '--release', 'r1', '--json', ...queueFlags], { TEMPORAL_ADDRESS: address });
    expect(started.stderr).toBe('');
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    await expect(slipway.result(id)).rejects.toThrow();
    const view = await slipway.status(id);
    expect(view.variants[0]).toMatchObject({ stage: 'failed' });
    const error = JSON.stringify(view.variants[0]!.error);
    expect(error).toContain('ModelServerFailedToStart');
    expect(error).toContain('the server exited with code 7 before it was healthy');
    const servers = (await ray.list()).filter((j) => j.metadata?.slipway_job === 'ray-broken-serve-r1-default-serve');
    // Non-retryable: one submission, and it is over.
    expect(servers.map((j) => j.status)).toEqual(['FAILED']);
  }, 180_000);

  it('waits pending, with Ray\'s reason in `slipway status`, while the only slot is busy, without eating its run time', async () => {
    const blocker = `blocker-${Date.now()}`;
    await ray.submit({ submission_id: blocker, entrypoint: 'sleep 600', entrypoint_num_cpus: RAY_CPUS });
    try {
      // train.timeout (15 s) is shorter than the wait in the queue (20 s): only the run counts against it.
      const id = await startRelease('ray-queue', 'r1', { params: { steps: 3, 'step-ms': 10 }, resources: { cpus: RAY_CPUS }, timeout: '15s', queue_timeout: '10m' });
      const view = await waitForStatus(id, (v) => v.progress.some((p) => p.job?.state === 'pending'), 'the training job to wait pending');
      expect(view.progress.find((p) => p.job)?.job?.reason).toMatch(/waiting for resources/);
      const shown = await runCli(['status', id], { TEMPORAL_ADDRESS: address });
      expect(shown.stderr).toBe('');
      expect(shown.stdout).toMatch(/trainModel: pending \(Job has not started yet/);
      await sleep(20_000);
      expect((await rayJobs('ray-queue-r1')).map((j) => j.status)).toEqual(['PENDING']);
      await ray.stop(blocker);
      const res = (await slipway.result(id)) as ReleaseResult;
      expect(res.status).toBe('completed');
      expect((await rayJobs('ray-queue-r1')).map((j) => j.status)).toEqual(['SUCCEEDED']);
      await recordHistory(slipway.handle(id), 'ray-queued-then-completed');
    } finally {
      await ray.stop(blocker);
    }
  });
});
