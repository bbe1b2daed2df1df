import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { createEvaluationActivities } from '../../src/activities/evaluation/activities.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { tempDir, totalRequests, writeDataset } from './support/dataset.js';

const dir = tempDir();
const taskQueue = 'quality-eval-test';
let env: TestWorkflowEnvironment;
let server: FakeModelServer;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN', () => undefined) });
  server = await startFakeModelServer({ answers: { 'What is 2+2?': '4' } });
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: path.join(import.meta.dirname, 'support', 'eval-workflow.ts'),
    activities: createEvaluationActivities({ cacheDir: path.join(dir, 'cache'), outputDir: path.join(dir, 'out') }),
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  await server?.close();
});

const start = (datasetPath: string, id: string) =>
  env.client.workflow.start('evaluateForTest', {
    taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [{ endpoint: server.url, datasetPath, concurrency: 2, requestTimeoutMs: 5_000, maxRetries: 1, runKey: id }],
  });

it('returns the small summary through workflow history', async () => {
  const file = writeDataset(dir, 'ok.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }, { prompt: 'x', expected: 'y' }]);
  const summary = await (await start(file, 'eval-ok')).result();
  expect(summary).toMatchObject({ total: 2, correct: 1, accuracy: 0.5, cached: false });
  expect(path.basename(summary.resultsPath)).toBe('eval-ok.jsonl');
});

it('stops sending requests when the workflow cancels the activity (delivered by heartbeat)', async () => {
  server.counts.clear();
  server.behaviour.delayMs = 100;
  try {
    // 2000 rows at 100 ms with concurrency 2 take over a minute: a working cancel stops well before half.
    const file = writeDataset(dir, 'long.jsonl', Array.from({ length: 2000 }, () => ({ prompt: 'What is 2+2?', expected: '4' })));
    const handle = await start(file, 'eval-cancel');
    await vi.waitFor(() => expect(totalRequests(server.counts)).toBeGreaterThanOrEqual(4), { timeout: 20_000, interval: 50 });
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await new Promise((r) => setTimeout(r, 300)); // requests aborted mid-delay are counted when the server wakes
    const sent = totalRequests(server.counts);
    expect(sent).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 500));
    expect(totalRequests(server.counts)).toBe(sent);
  } finally {
    server.behaviour.delayMs = 0;
  }
});
