import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvaluationActivities } from '../../src/activities/evaluation/activities.js';
import type { EvalSummary, EvaluateModelInput, SmokeInput, SmokeReport } from '../../src/activities/evaluation/types.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { tempDir, totalRequests, writeDataset } from './support/dataset.js';
import { HTML_PAGE, startOddServer } from './support/odd-server.js';

// MockActivityEnvironment is the SDK's activity context for tests (heartbeats, cancellation);
// the HTTP side is the real loopback server.
let server: FakeModelServer;
const dir = tempDir();
const logs: LogEntry[] = [];
/** An activity context whose log lines are kept for assertions instead of printed. */
const mockEnv = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('DEBUG', (e) => logs.push(e)) });
const activities = createEvaluationActivities({ cacheDir: path.join(dir, 'cache'), outputDir: path.join(dir, 'out') });
// MockActivityEnvironment.run cannot infer the result type from the function; name it once here.
const evaluate = (env: MockActivityEnvironment, i: EvaluateModelInput) => env.run(activities.evaluateModel, i) as Promise<EvalSummary>;
const smoke = (i: SmokeInput) => mockEnv().run(activities.smokeTest, i) as Promise<SmokeReport>;

beforeAll(async () => {
  server = await startFakeModelServer({ answers: { 'What is 2+2?': '4' } });
});
afterAll(async () => server?.close());

const input = (datasetPath: string, more: Partial<EvaluateModelInput> = {}): EvaluateModelInput => ({
  endpoint: server.url,
  datasetPath,
  concurrency: 2,
  requestTimeoutMs: 5_000,
  maxRetries: 1,
  runKey: 'wf-1-base',
  ...more,
});

describe('evaluateModel', () => {
  it('heartbeats progress and serves an identical evaluation from the cache with no request sent', async () => {
    server.counts.clear();
    const file = writeDataset(dir, 'cache.jsonl', Array.from({ length: 10 }, () => ({ prompt: 'What is 2+2?', expected: '4' })));
    const env = mockEnv();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const first = await evaluate(env, input(file, { modelDigest: 'sha256:model-a' }));
    expect(first).toMatchObject({ cached: false, accuracy: 1, total: 10 });
    expect(path.basename(first.resultsPath)).toBe('wf-1-base.jsonl');
    expect(beats.at(-1)).toEqual({ done: 10, total: 10, errors: 0 });
    expect(server.counts.get(200)).toBe(10);

    const again = await evaluate(mockEnv(), input(file, { modelDigest: 'sha256:model-a', runKey: 'wf-2-base' }));
    expect(again).toEqual({ ...first, cached: true });
    expect(logs.some((l) => l.message === 'evaluation served from cache')).toBe(true);
    expect(totalRequests(server.counts)).toBe(10);

    // Another model, or another load, is a different evaluation.
    await evaluate(mockEnv(), input(file, { modelDigest: 'sha256:model-b' }));
    await evaluate(mockEnv(), input(file, { modelDigest: 'sha256:model-a', concurrency: 3 }));
    expect(totalRequests(server.counts)).toBe(30);
  });

  it('misses the cache when the serve command, the serving code, a scorer or the settings change', async () => {
    server.counts.clear();
    const serveDir = tempDir('slipway-serve-');
    writeFileSync(path.join(serveDir, 'serve.py'), 'print("v1")\n');
    const rows = (scorer: object) => Array.from({ length: 4 }, () => ({ prompt: 'hi', expected: 'ECHO: hi', scorer })) // the server answers `echo: hi`;
    const file = writeDataset(dir, 'serve.jsonl', rows({ type: 'exact_match', case_sensitive: true }));
    const serve = { command: ['python', 'serve.py', '--port', '{port}'], cwd: serveDir };
    const run = (more: Partial<EvaluateModelInput> = {}) => evaluate(mockEnv(), input(file, { modelDigest: 'sha256:model-s', serve, runKey: 'wf-serve', ...more }));
    let sent = 0;
    /** Runs an evaluation and says whether it sent requests (false: served from the cache). */
    const ran = async (more: Partial<EvaluateModelInput> = {}) => {
      const s = await run(more);
      const now = totalRequests(server.counts);
      const sentSome = now > sent;
      sent = now;
      expect(s.cached).toBe(!sentSome);
      return { s, sentSome };
    };

    expect(await ran()).toMatchObject({ sentSome: true, s: { accuracy: 0 } });
    expect((await ran()).sentSome).toBe(false);
    expect((await ran({ serve: { ...serve, command: ['python', 'serve.py', '--port', '{port}', '--quantize', '8bit'] } })).sentSome).toBe(true);
    writeFileSync(path.join(serveDir, 'serve.py'), 'print("v2")\n');
    expect((await ran()).sentSome).toBe(true);
    expect((await ran()).sentSome).toBe(false);
    // Version control, installed packages and bytecode are not serving code.
    for (const skipped of ['.git', 'node_modules', '__pycache__', '.venv']) {
      mkdirSync(path.join(serveDir, skipped), { recursive: true });
      writeFileSync(path.join(serveDir, skipped, 'x'), String(Math.random()));
    }
    expect((await ran()).sentSome).toBe(false);
    // The scorer lives in the dataset rows: the dataset digest covers it, and the numbers change.
    writeDataset(dir, 'serve.jsonl', rows({ type: 'exact_match', case_sensitive: false }));
    const rescored = await ran();
    expect(rescored).toMatchObject({ sentSome: true, s: { accuracy: 1 } });
    expect((await ran({ requestTimeoutMs: 4_000 })).sentSome).toBe(true);
    expect((await ran({ model: 'fake' })).sentSome).toBe(true);

    // useCache: false runs again, and its fresh result replaces the entry.
    const fresh = await ran({ useCache: false });
    expect(fresh.sentSome).toBe(true);
    const after = await ran();
    expect(after.sentSome).toBe(false);
    expect(after.s).toEqual({ ...fresh.s, cached: true });
  });

  it('runs uncached, with a warning, when the serving code cannot be hashed', async () => {
    server.counts.clear();
    const file = writeDataset(dir, 'nocode.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }]);
    const more = { modelDigest: 'sha256:model-n', serve: { command: ['serve'], cwd: path.join(dir, 'no-such-dir') }, runKey: 'wf-nocode' };
    logs.length = 0;
    expect((await evaluate(mockEnv(), input(file, more))).cached).toBe(false);
    expect((await evaluate(mockEnv(), input(file, more))).cached).toBe(false);
    expect(totalRequests(server.counts)).toBe(2);
    expect(logs.find((l) => l.message === 'evaluation not cacheable')?.meta).toMatchObject({ why: expect.stringContaining('serving code unhashable: ENOENT') });
  });

  it('fails with a non-retryable InvalidResponses when the endpoint answers a web page', async () => {
    const odd = await startOddServer(() => HTML_PAGE);
    try {
      const file = writeDataset(dir, 'page.jsonl', [1, 2].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
      const err = await evaluate(mockEnv(), input(file, { endpoint: odd.url, runKey: 'wf-page' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: 'InvalidResponses', nonRetryable: true, message: expect.stringMatching(/^2 of 2 responses were not OpenAI chat completions: first: HTTP 200 text\/html, body not JSON: <!doctype html>/) });
    } finally {
      await odd.close();
    }
  });

  it('aborts its requests when the activity is cancelled', async () => {
    server.counts.clear();
    server.behaviour.delayMs = 100;
    try {
      // 1000 rows at 100 ms each take many seconds: a cancellation that works stops well before half.
      const file = writeDataset(dir, 'cancel.jsonl', Array.from({ length: 1000 }, () => ({ prompt: 'What is 2+2?', expected: '4' })));
      const env = mockEnv();
      env.on('heartbeat', (d: { done: number }) => d.done >= 4 && env.cancel());
      await expect(evaluate(env, input(file, { runKey: 'wf-cancel' }))).rejects.toBeInstanceOf(CancelledFailure);
      await new Promise((r) => setTimeout(r, 300));
      const sent = totalRequests(server.counts);
      expect(sent).toBeLessThan(500);
      await new Promise((r) => setTimeout(r, 300));
      expect(totalRequests(server.counts)).toBe(sent);
    } finally {
      server.behaviour.delayMs = 0;
    }
  });

  it('fails a malformed dataset with a non-retryable DatasetInvalid', async () => {
    const file = writeDataset(dir, 'broken.jsonl', ['not json']);
    const err = await evaluate(mockEnv(), input(file)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'DatasetInvalid', nonRetryable: true, message: expect.stringContaining('broken.jsonl:1: invalid JSON') });
  });

  it('fails an endpoint nobody listens on with a retryable EndpointUnreachable', async () => {
    const file = writeDataset(dir, 'one.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }]);
    const err = await evaluate(mockEnv(), input(file, { endpoint: 'http://127.0.0.1:9', maxRetries: 0 })).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'EndpointUnreachable', nonRetryable: false });
  });
});

describe('smokeTest', () => {
  it('passes the three seed prompts, with latency per case', async () => {
    const report = await smoke({ endpoint: server.url });
    expect(report.passed).toBe(true);
    expect(report.cases.map((c) => c.prompt)).toEqual(['Hello', '什么是机器学习?', 'Write a function to sort a list']);
    expect(report.cases.every((c) => c.ok && c.status === 200 && c.latency_ms > 0)).toBe(true);
  });

  it('stops at an empty answer and names the prompt', async () => {
    server.behaviour.emptyContent = true;
    try {
      const report = await smoke({ endpoint: server.url, timeoutMs: 5_000 });
      expect(report).toMatchObject({ passed: false, failure: '"Hello": empty content' });
      expect(report.cases).toHaveLength(1);
    } finally {
      server.behaviour.emptyContent = false;
    }
  });

  it('reports an HTTP error and a timeout on the case that hit it', async () => {
    Object.assign(server.behaviour, { failCount: 1, failStatus: 503 });
    const cases = [{ prompt: 'What is 2+2?', max_tokens: 5 }];
    const http = await smoke({ endpoint: server.url, cases });
    expect(http.failure).toMatch(/^"What is 2\+2\?": HTTP 503/);
    server.behaviour.delayMs = 300;
    try {
      const slow = await smoke({ endpoint: server.url, cases, timeoutMs: 50 });
      expect(slow).toMatchObject({ passed: false, failure: '"What is 2+2?": no answer within 50 ms', cases: [{ status: null, ok: false }] });
    } finally {
      server.behaviour.delayMs = 0;
    }
  });
});
