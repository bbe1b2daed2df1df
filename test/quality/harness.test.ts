import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runEvaluation } from '../../src/activities/evaluation/harness.js';
import { ChatClient } from '../../src/activities/evaluation/http.js';
import type { EvaluateOptions } from '../../src/activities/evaluation/types.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { tempDir, totalRequests, writeDataset } from './support/dataset.js';
import { startDelayServer } from './support/delay-server.js';
import { chatAnswer, EMPTY_OBJECT, HTML_PAGE, startOddServer } from './support/odd-server.js';

let server: FakeModelServer;
const dir = tempDir();
const opts = (datasetPath: string, more: Partial<EvaluateOptions> = {}): EvaluateOptions => ({
  endpoint: server.url,
  datasetPath,
  concurrency: 4,
  requestTimeoutMs: 5_000,
  maxRetries: 3,
  outputDir: path.join(dir, 'out'),
  ...more,
});

beforeAll(async () => {
  server = await startFakeModelServer({ answers: { 'What is 2+2?': '4', 'Capital of France?': 'Paris', 'Pi to two places?': '3.14', 'Largest ocean?': 'Atlantic' } });
});
afterAll(async () => server?.close());

const reset = () => {
  Object.assign(server.behaviour, { delayMs: 0, failCount: 0, failStatus: 500, emptyContent: false, alwaysFail: false });
  server.counts.clear();
};

describe('runEvaluation', () => {
  it('scores a known dataset: accuracy, per-row results file and digests', async () => {
    reset();
    const file = writeDataset(dir, 'known.jsonl', [
      { prompt: 'What is 2+2?', expected: '4' },
      { prompt: 'Capital of France?', expected: 'paris', scorer: { type: 'exact_match', case_sensitive: false } },
      { prompt: 'Pi to two places?', expected: 3.14159, scorer: { type: 'numeric', tolerance: 0.01 } },
      { prompt: 'Largest ocean?', expected: 'Pacific' }, // the server says Atlantic: wrong
      { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], expected: '^echo', scorer: 'regex' },
    ]);
    const s = await runEvaluation(opts(file, { runName: 'known', metricsUrl: `${server.url}/metrics` }));
    expect(s).toMatchObject({ total: 5, correct: 4, accuracy: 0.8, retries: 0, cached: false });
    expect(s.errors).toEqual({});
    expect(s.datasetDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(s.memory_gb).toBeGreaterThan(0); // the fake server exports its own resident memory
    const lines = readFileSync(s.resultsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; correct: boolean; output: string });
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[3]).toMatchObject({ correct: false, output: 'Atlantic', reason: 'expected "Pacific"' });
    expect(server.counts.get(200)).toBe(5);
  });

  it('retries a burst of 5xx, counts the retries, and counts a row whose retries run out', async () => {
    reset();
    const file = writeDataset(dir, 'burst.jsonl', [1, 2, 3].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
    server.behaviour.failCount = 2;
    const recovered = await runEvaluation(opts(file, { concurrency: 1 }));
    expect(recovered).toMatchObject({ correct: 3, retries: 2 });
    expect(recovered.errors).toEqual({});
    expect(server.counts.get(500)).toBe(2);

    reset();
    server.behaviour.failCount = 4; // row 1: first try + 3 retries all fail; row 2 then succeeds
    const exhausted = await runEvaluation(opts(file, { concurrency: 1 }));
    expect(exhausted).toMatchObject({ correct: 2, retries: 3, errors: { http_5xx: 1 } });
  });

  it('does not retry a 4xx, and counts empty answers', async () => {
    reset();
    const file = writeDataset(dir, 'fourxx.jsonl', [1, 2].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
    Object.assign(server.behaviour, { failCount: 1, failStatus: 400 });
    expect(await runEvaluation(opts(file, { concurrency: 1 }))).toMatchObject({ correct: 1, retries: 0, errors: { http_4xx: 1 } });
    reset();
    server.behaviour.emptyContent = true;
    expect(await runEvaluation(opts(file))).toMatchObject({ correct: 0, retries: 0, errors: { empty: 2 } });
  });

  it('counts timeouts, without retrying them, and keeps them in the latency tail', async () => {
    reset();
    server.behaviour.delayMs = 400;
    const file = writeDataset(dir, 'slow.jsonl', [1, 2, 3].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
    const s = await runEvaluation(opts(file, { requestTimeoutMs: 50 }));
    expect(s).toMatchObject({ correct: 0, retries: 0, errors: { timeout: 3 } });
    expect(s.latency_p99_ms).toBeGreaterThanOrEqual(50);
    // The server still answers the abandoned requests later; let it, so the next test counts from zero.
    await vi.waitFor(() => expect(totalRequests(server.counts)).toBe(3), { timeout: 5_000 });
  });

  it('fails fast on a malformed row, naming file and line, before sending anything', async () => {
    reset();
    const bad = writeDataset(dir, 'bad.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }, '', '{"prompt": "x", "expected": 1', { prompt: 'y' }]);
    await expect(runEvaluation(opts(bad))).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringMatching(/bad\.jsonl:3: invalid JSON/) });
    const noExpected = writeDataset(dir, 'noexp.jsonl', [{ prompt: 'y' }]);
    await expect(runEvaluation(opts(noExpected))).rejects.toThrow(/noexp\.jsonl:1: missing "expected"/);
    const badRegex = writeDataset(dir, 'regex.jsonl', [{ prompt: 'a', expected: 'a' }, { prompt: 'y', expected: '(', scorer: 'regex' }]);
    await expect(runEvaluation(opts(badRegex))).rejects.toThrow(/regex\.jsonl:2: Invalid regular expression/);
    const badSchema = writeDataset(dir, 'schema.jsonl', [{ prompt: 'a', expected: 'a' }, { prompt: 'y', expected: null, scorer: { type: 'json_schema', schema: { type: 'string', minLenght: 3 } } }]);
    await expect(runEvaluation(opts(badSchema))).rejects.toThrow('schema.jsonl:2: json_schema scorer: invalid schema: strict mode: unknown keyword: "minLenght"');
    const both = writeDataset(dir, 'both.jsonl', [{ prompt: 'a', messages: [{ role: 'user', content: 'a' }], expected: 'a' }]);
    await expect(runEvaluation(opts(both))).rejects.toThrow(/both\.jsonl:1: give exactly one of "prompt" or "messages"/);
    expect(totalRequests(server.counts)).toBe(0);
  });

  it('stops sending when the signal aborts, and leaves no partial results file', async () => {
    reset();
    server.behaviour.delayMs = 100;
    const file = writeDataset(dir, 'many.jsonl', Array.from({ length: 200 }, () => ({ prompt: 'What is 2+2?', expected: '4' })));
    const controller = new AbortController();
    const outputDir = path.join(dir, 'cancelled');
    const run = runEvaluation(opts(file, { outputDir, runName: 'cancelled' }), {
      signal: controller.signal,
      onProgress: (p) => p.done >= 8 && controller.abort(new Error('stop')),
    });
    await expect(run).rejects.toThrow('stop');
    // The server counts a request when it answers, so let the in-flight ones finish first.
    await new Promise((r) => setTimeout(r, 300));
    const sent = totalRequests(server.counts);
    expect(sent).toBeGreaterThanOrEqual(8);
    expect(sent).toBeLessThanOrEqual(8 + 4); // at most one more request per worker (4 workers)
    await new Promise((r) => setTimeout(r, 300));
    expect(totalRequests(server.counts)).toBe(sent);
    expect(existsSync(outputDir) ? readdirSync(outputDir) : []).toEqual([]);
  });

  it('survives an abort while a results write is still in flight (no unhandled stream error)', async () => {
    reset();
    // Rows whose records exceed the writer's 64 KiB buffer, so every answer starts a file write and
    // the abort lands while one is in flight: destroying the stream then must not raise an
    // unhandled 'error' (which crashed the worker process).
    const file = writeDataset(dir, 'big-rows.jsonl', Array.from({ length: 50 }, () => ({ prompt: 'What is 2+2?', expected: 'x'.repeat(100_000) })));
    const unhandled: unknown[] = [];
    const onError = (err: unknown) => unhandled.push(err);
    process.on('uncaughtException', onError);
    try {
      for (let round = 0; round < 5; round++) {
        const controller = new AbortController();
        const outputDir = path.join(dir, `big-${round}`);
        const run = runEvaluation(opts(file, { outputDir, runName: 'big' }), { signal: controller.signal, onProgress: (p) => p.done >= 3 && controller.abort(new Error('stop')) });
        await expect(run).rejects.toThrow('stop');
        await new Promise((r) => setTimeout(r, 50));
        expect(existsSync(outputDir) ? readdirSync(outputDir) : []).toEqual([]);
      }
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(unhandled).toEqual([]);
  });

  it("reports percentiles that bound the server's own service times from above, in order", async () => {
    // Delays spread from 20 to 418 ms; the delay server times each request itself.
    const delayServer = await startDelayServer();
    try {
      const rows = Array.from({ length: 200 }, (_, i) => ({ prompt: `delay:${20 + 2 * ((i * 37) % 200)}`, expected: 'x' }));
      const s = await runEvaluation(opts(writeDataset(dir, 'delays.jsonl', rows), { endpoint: delayServer.url, concurrency: 8 }));
      const sorted = [...delayServer.serviceTimes].sort((a, b) => a - b);
      const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(sorted).toHaveLength(200);
      for (const [q, measured] of [[0.5, s.latency_p50_ms], [0.95, s.latency_p95_ms], [0.99, s.latency_p99_ms]] as const) {
        // The client sees the service time plus loopback transfer: never less (bar the 1% bucket error).
        expect(measured).toBeGreaterThanOrEqual(exact(q) * 0.99);
      }
      // Each percentile is read at its own rank: the median is far below the tail the server produced
      // (delays 20..418 ms), whatever this machine adds per request.
      expect(s.latency_p50_ms).toBeLessThan(exact(0.95));
      expect(s.latency_p50_ms).toBeLessThanOrEqual(s.latency_p95_ms);
      expect(s.latency_p95_ms).toBeLessThanOrEqual(s.latency_p99_ms);
    } finally {
      await delayServer.close();
    }
  });

  it("measures memory from the endpoint's own /metrics when no metrics URL is given, and says why when it cannot", async () => {
    reset();
    const file = writeDataset(dir, 'memory.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }]);
    for (const endpoint of [server.url, `${server.url}/v1`, `${server.url}/v1/chat/completions`]) {
      const s = await runEvaluation(opts(file, { endpoint }));
      expect(s.memory_gb).toBeGreaterThan(0);
      expect(s.memory_note).toBeUndefined();
    }
    const bare = await startDelayServer(); // answers chat, 404 elsewhere: no /metrics
    try {
      const s = await runEvaluation(opts(file, { endpoint: bare.url }));
      expect(s.memory_gb).toBeNull();
      expect(s.memory_note).toBe(`${bare.url}/metrics answered HTTP 404`);
      const noMetric = await runEvaluation(opts(file, { endpoint: bare.url, metricsUrl: `${server.url}/health` }));
      expect(noMetric.memory_note).toBe(`${server.url}/health has neither slipway_model_peak_memory_bytes nor process_resident_memory_bytes`);
    } finally {
      await bare.close();
    }
  });

  it('fails with INVALID_RESPONSES, naming what came back, when no answer is a chat completion', async () => {
    const file = writeDataset(dir, 'html.jsonl', [1, 2, 3].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
    for (const [answer, first] of [
      [HTML_PAGE, 'HTTP 200 text/html, body not JSON: <!doctype html> <html><head><title>Welcome</title></head><body>It works!</body><…'], // whitespace folded, cut at 80
      [EMPTY_OBJECT, 'HTTP 200 application/json, no choices[0].message.content: {}'],
    ] as const) {
      const odd = await startOddServer(() => answer);
      try {
        const err = await runEvaluation(opts(file, { endpoint: odd.url, outputDir: path.join(dir, 'invalid') })).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'INVALID_RESPONSES', message: `3 of 3 responses were not OpenAI chat completions: first: ${first}; is ${odd.url} an OpenAI-compatible server (POST /v1/chat/completions)?` });
        expect(odd.requests).toBe(3); // a 200 is an answer: never retried
        expect(readdirSync(path.join(dir, 'invalid'))).toEqual([]);
      } finally {
        await odd.close();
      }
    }
  });

  it('counts some invalid responses among valid ones as wrong, and names the first', async () => {
    const odd = await startOddServer((n) => (n % 2 === 0 ? chatAnswer('4') : EMPTY_OBJECT));
    try {
      const file = writeDataset(dir, 'mixed.jsonl', [1, 2, 3, 4].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
      const s = await runEvaluation(opts(file, { endpoint: odd.url, concurrency: 1 }));
      expect(s).toMatchObject({ total: 4, correct: 2, first_invalid_response: 'HTTP 200 application/json, no choices[0].message.content: {}' });
      expect(s.errors).toEqual({ invalid_response: 2 });
    } finally {
      await odd.close();
    }
  });

  it('measures streamed answers: time to first token from send, inter-token gaps from the token before', async () => {
    reset();
    // First token after 60 ms, then one token every 15 ms: 'echo: stream test' is 17 tokens, 16 gaps.
    Object.assign(server.behaviour, { delayMs: 60, tokenDelayMs: 15 });
    try {
      const rows = Array.from({ length: 8 }, () => ({ prompt: 'stream test', expected: 'echo: stream test' }));
      const s = await runEvaluation(opts(writeDataset(dir, 'stream.jsonl', rows), { stream: true, runName: 'stream' }));
      expect(s).toMatchObject({ total: 8, correct: 8 });
      // Lower bounds only: the server waits at least this long; the machine may add any amount.
      expect(s.ttft_p50_ms).toBeGreaterThanOrEqual(60 * 0.99);
      expect(s.itl_p50_ms).toBeGreaterThanOrEqual(15 * 0.99);
      expect(s.ttft_p50_ms!).toBeLessThanOrEqual(s.ttft_p99_ms!);
      expect(s.itl_p50_ms!).toBeLessThanOrEqual(s.itl_p99_ms!);
      // The whole answer takes the first token plus 16 gaps: the latency is far above the TTFT.
      expect(s.latency_p50_ms).toBeGreaterThanOrEqual(60 + 16 * 15 * 0.99);
      const rowsOut = readFileSync(s.resultsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ttft_ms: number; output: string });
      expect(rowsOut.every((r) => r.ttft_ms >= 60 * 0.99 && r.output === 'echo: stream test')).toBe(true);
    } finally {
      reset();
      server.behaviour.tokenDelayMs = 0;
    }
  });

  it('counts a server that ignores stream: its whole answer is its first token, and unstreamed runs report no TTFT', async () => {
    const odd = await startOddServer(() => chatAnswer('4'));
    try {
      const file = writeDataset(dir, 'nostream.jsonl', [1, 2].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
      const streamed = await runEvaluation(opts(file, { endpoint: odd.url, stream: true }));
      expect(streamed).toMatchObject({ correct: 2 });
      expect(streamed.ttft_p50_ms).toBeGreaterThan(0);
      expect(streamed.itl_p50_ms).toBeUndefined();
      const plain = await runEvaluation(opts(file, { endpoint: odd.url }));
      expect(plain.ttft_p50_ms).toBeUndefined();
    } finally {
      await odd.close();
    }
  });

  it('scores a stream that breaks off with an error event or garbage as an invalid response', async () => {
    const odd = await startOddServer((n) =>
      n % 2 === 0
        ? { type: 'text/event-stream', body: 'data: {"choices":[{"delta":{"content":"4"}}]}\n\ndata: [DONE]\n\n' }
        : { type: 'text/event-stream', body: 'data: {"choices":[{"delta":{"content":"4"}}]}\n\ndata: {"error":{"message":"engine died"}}\n\n' },
    );
    try {
      const file = writeDataset(dir, 'broken-stream.jsonl', [1, 2, 3, 4].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
      const s = await runEvaluation(opts(file, { endpoint: odd.url, concurrency: 1, stream: true }));
      expect(s).toMatchObject({ total: 4, correct: 2 });
      expect(s.errors).toEqual({ invalid_response: 2 });
      expect(s.first_invalid_response).toMatch(/^HTTP 200 text\/event-stream, error event: /);
    } finally {
      await odd.close();
    }
  });
});

describe('ChatClient deadlines', () => {
  it('times out each attempt from its own start, though all attempts share one timer', async () => {
    const slow = await startDelayServer();
    const client = new ChatClient(slow.url, { connections: 4, timeoutMs: 200, maxRetries: 0 });
    const ask = (prompt: string) => client.complete(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }] }));
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      const first = ask('delay:1500');
      await pause(60);
      const quick = ask('delay:0');
      await pause(60);
      const second = ask('delay:1500'); // expires 120 ms after the first: its own deadline, not the first's
      const [a, b, c] = await Promise.all([first, quick, second]);
      expect(a).toMatchObject({ error: 'timeout', status: null });
      expect(b).toMatchObject({ status: 200, content: 'delay:0' });
      expect(c).toMatchObject({ error: 'timeout', status: null });
      for (const timedOut of [a, c]) {
        expect(timedOut.latencyMs).toBeGreaterThanOrEqual(200);
        expect(timedOut.latencyMs).toBeLessThan(1_000); // the server answers after 1.5 s: the deadline fired
      }
    } finally {
      await client.close();
      await slow.close();
    }
  });
});
