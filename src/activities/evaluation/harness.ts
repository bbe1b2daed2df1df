// The evaluation harness: sends every dataset row to an OpenAI-compatible endpoint at a set
// concurrency (temperature 0), scores the answers, and measures latency and throughput. Per-row
// results go to a JSONL file; only a small summary (with the file's path and digest) is returned,
// because it travels through workflow history.
import path from 'node:path';
import { z } from 'zod';
import { LatencyHistogram } from '../../quality/histogram.js';
import { binLatencies } from '../../quality/latency-bins.js';
import { chatRequestBody, loadDataset, type DatasetRow } from './dataset.js';
import { EvalError } from './errors.js';
import { ChatClient, defaultMetricsUrl, type ChatOutcome } from './http.js';
import { watchMemory } from './memory.js';
import { ResultsWriter } from './results.js';
import type { EvalErrorKind, EvalHooks, EvalSummary, EvaluateOptions } from './types.js';

export type { EvalHooks, EvalProgress, EvalSummary, EvaluateOptions } from './types.js';

const OptionsSchema = z.object({
  endpoint: z.url({ protocol: /^https?$/ }),
  concurrency: z.number().int().min(1).max(1024),
  requestTimeoutMs: z.number().int().positive(),
  maxRetries: z.number().int().min(0).max(20),
  datasetPath: z.string().min(1),
  outputDir: z.string().min(1),
  metricsUrl: z.url({ protocol: /^https?$/ }).optional(),
  stream: z.boolean().optional(),
});

/**
 * Runs one evaluation. Rejects with EvalError `DATASET_INVALID` (a bad row, named by file:line,
 * before any request), `ENDPOINT_UNREACHABLE` (every row failed to connect), `INVALID_RESPONSES`
 * (no row got a chat completion and some got something else, e.g. HTML: the endpoint is not a
 * model server, so there is nothing to score), or the signal's reason when `hooks.signal` aborts
 * (requests in flight are aborted, the partial file removed). Some invalid responses among valid
 * ones are counted (`errors.invalid_response`, `first_invalid_response`) and scored as wrong.
 */
export async function runEvaluation(opts: EvaluateOptions, hooks: EvalHooks = {}): Promise<EvalSummary> {
  const checked = OptionsSchema.safeParse(opts);
  if (!checked.success) {
    const i = checked.error.issues[0];
    throw new EvalError('INVALID_OPTIONS', `${i?.path.join('.')}: ${i?.message.replace(/^Invalid input: /, '')}`);
  }
  const { signal, onProgress } = hooks;
  const dataset = await loadDataset(opts.datasetPath);
  signal?.throwIfAborted();

  const name = opts.runName ?? `eval-${dataset.digest.slice(7, 19)}-${Date.now()}`;
  const writer = await ResultsWriter.open(opts.outputDir, name);
  if (writer.finalPath === path.resolve(opts.datasetPath)) {
    await writer.discard();
    throw new EvalError('INVALID_OPTIONS', `the results file would overwrite the dataset ${opts.datasetPath}: choose another outputDir or runName`);
  }
  const client = new ChatClient(opts.endpoint, { connections: opts.concurrency, timeoutMs: opts.requestTimeoutMs, maxRetries: opts.maxRetries });
  const onAbort = () => client.abortAll();
  signal?.addEventListener('abort', onAbort, { once: true });
  const memory = await watchMemory(opts.metricsUrl ?? defaultMetricsUrl(opts.endpoint));
  try {
    const model = opts.model ?? (await client.discoverModel());
    const rows = dataset.rows;
    const histogram = new LatencyHistogram();
    const ttft = new LatencyHistogram();
    const itl = new LatencyHistogram();
    const latencies: number[] = [];
    const errors: Partial<Record<EvalErrorKind, number>> = {};
    let [next, done, correct, attempts, failed, completions] = [0, 0, 0, 0, 0, 0];
    let firstInvalid: string | undefined;

    const record = (index: number, row: DatasetRow, out: ChatOutcome) => {
      attempts += out.attempts;
      // Latency counts answers and timeouts (a timeout is the slowest kind of answer); an error
      // status or a refused connection says nothing about how fast the model answers.
      if (out.status === 200 || out.error === 'timeout') {
        histogram.record(out.latencyMs);
        latencies.push(out.latencyMs);
      }
      if (out.content !== undefined && out.ttftMs !== undefined) {
        ttft.record(out.ttftMs);
        for (const gap of out.itlMs ?? []) itl.record(gap);
      }
      const score = out.content !== undefined ? row.score(out.content) : { correct: false, reason: out.detail };
      if (out.error) {
        errors[out.error] = (errors[out.error] ?? 0) + 1;
        failed += 1;
      }
      if (out.content !== undefined || out.error === 'empty') completions += 1;
      if (out.error === 'invalid_response') firstInvalid ??= out.detail;
      if (score.correct) correct += 1;
      done += 1;
      // One object shape for every row (JSON.stringify drops the undefined fields): at tens of
      // thousands of answers a second, this record is a good part of the harness's own cost.
      writer.add(index, {
        line: row.line,
        id: row.id,
        correct: score.correct,
        reason: score.reason,
        output: out.content ?? null,
        expected: row.expected,
        status: out.status,
        error: out.error,
        latency_ms: round(out.latencyMs, 3),
        ttft_ms: opts.stream && out.ttftMs !== undefined ? round(out.ttftMs, 3) : undefined,
        attempts: out.attempts,
      });
      onProgress?.({ done, total: rows.length, errors: failed });
    };

    const worker = async () => {
      while (next < rows.length && !signal?.aborted) {
        const index = next++;
        const row = rows[index] as DatasetRow;
        record(index, row, await client.complete(chatRequestBody(row, model, opts.stream), signal));
      }
    };

    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, rows.length) }, worker));
    const seconds = (performance.now() - started) / 1000;
    signal?.throwIfAborted();
    if ((errors.network ?? 0) === rows.length) {
      throw new EvalError('ENDPOINT_UNREACHABLE', `no row reached ${opts.endpoint} (${rows.length} network errors)`);
    }
    const invalid = errors.invalid_response ?? 0;
    if (invalid > 0 && completions === 0) {
      throw new EvalError('INVALID_RESPONSES', `${invalidResponses(invalid, rows.length, firstInvalid)}; is ${opts.endpoint} an OpenAI-compatible server (POST /v1/chat/completions)?`);
    }
    const measured = await memory.stop();
    const resultsDigest = await writer.finish();
    return {
      accuracy: round(correct / rows.length, 6),
      total: rows.length,
      correct,
      latency_p50_ms: round(histogram.percentile(0.5), 3),
      latency_p95_ms: round(histogram.percentile(0.95), 3),
      latency_p99_ms: round(histogram.percentile(0.99), 3),
      latency_histogram: binLatencies(latencies),
      requests_per_second: round(attempts / seconds, 2),
      ...(opts.stream && ttft.count > 0 && {
        ttft_p50_ms: round(ttft.percentile(0.5), 3),
        ttft_p95_ms: round(ttft.percentile(0.95), 3),
        ttft_p99_ms: round(ttft.percentile(0.99), 3),
      }),
      ...(opts.stream && itl.count > 0 && {
        itl_p50_ms: round(itl.percentile(0.5), 3),
        itl_p95_ms: round(itl.percentile(0.95), 3),
        itl_p99_ms: round(itl.percentile(0.99), 3),
      }),
      errors,
      retries: attempts - rows.length,
      memory_gb: measured.gb,
      ...(measured.problem !== undefined && { memory_note: measured.problem }),
      ...(firstInvalid !== undefined && { first_invalid_response: firstInvalid }),
      resultsPath: writer.finalPath,
      resultsDigest,
      datasetDigest: dataset.digest,
      cached: false,
    };
  } catch (err) {
    await writer.discard();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await memory.stop();
    await client.close();
  }
}

/** `199 of 199 responses were not OpenAI chat completions: first: HTTP 200 text/html: …`. */
export function invalidResponses(count: number, total: number, first: string | undefined): string {
  return `${count} of ${total} responses were not OpenAI chat completions${first ? `: first: ${first}` : ''}`;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
