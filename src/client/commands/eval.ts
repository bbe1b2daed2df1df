// `slipway eval`: evaluates an endpoint on a JSONL dataset and prints the summary. Exit 0 when
// the evaluation ran (judging the numbers is `slipway gate`'s job); 1 when the endpoint could not
// be reached or answered with something that is not an OpenAI chat completion (the summary is
// still printed when some answers were valid, so it can be gated); 2 for bad input (options, a
// malformed dataset row or schema). With --artifact the result is cached like the pipeline's.
import path from 'node:path';
import type { Command } from 'commander';
import { evaluateWithCache } from '../../activities/evaluation/cached.js';
import { fileDigest } from '../../activities/evaluation/cache.js';
import { EvalError } from '../../activities/evaluation/errors.js';
import { invalidResponses } from '../../activities/evaluation/harness.js';
import { defaultMetricsUrl } from '../../activities/evaluation/http.js';
import type { EvalCacheRequest, EvalHooks, EvalSummary, EvaluateOptions } from '../../activities/evaluation/types.js';

export interface EvalCommandOptions extends EvaluateOptions {
  /** The served model file: its digest identifies the model and turns the cache on. */
  artifact?: string;
  /** The serving code's folder, hashed into the cache key. */
  serveCwd?: string;
  /** `<stateDir>/cache/eval` holds the cache. */
  stateDir: string;
  /** False: run even when an identical evaluation is cached (and replace the entry). */
  useCache: boolean;
}

/** Runs the evaluation (through the cache when an artifact identifies the model); the printer sits on top. */
export async function evalCommand(opts: EvalCommandOptions, hooks: EvalHooks = {}): Promise<EvalSummary> {
  const { artifact, serveCwd, stateDir, useCache, ...evaluate } = opts;
  let req: EvalCacheRequest = { useCache };
  if (artifact) {
    const modelDigest = await fileDigest(artifact).catch((err: NodeJS.ErrnoException) => {
      throw new EvalError('INVALID_OPTIONS', `--artifact ${artifact}: cannot read (${err.code ?? err.message})`);
    });
    req = { ...req, modelDigest, ...(serveCwd && { serve: { command: [], cwd: path.resolve(serveCwd) } }) };
  }
  const exclude = [path.resolve(stateDir), path.resolve(evaluate.outputDir)];
  return evaluateWithCache(evaluate, req, { cacheDir: path.join(stateDir, 'cache', 'eval'), exclude }, hooks);
}

/** A two-column summary table. */
export function formatEvalSummary(s: EvalSummary): string {
  const errors = Object.entries(s.errors).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
  const rows: Array<[string, string]> = [
    ['accuracy', `${s.accuracy.toFixed(4)} (${s.correct}/${s.total})`],
    ['latency p50/p95/p99', `${s.latency_p50_ms.toFixed(1)} / ${s.latency_p95_ms.toFixed(1)} / ${s.latency_p99_ms.toFixed(1)} ms`],
    ['requests/s', s.requests_per_second.toFixed(1)],
    ...(s.ttft_p50_ms !== undefined ? [['TTFT p50/p95/p99', `${s.ttft_p50_ms.toFixed(1)} / ${s.ttft_p95_ms?.toFixed(1)} / ${s.ttft_p99_ms?.toFixed(1)} ms`] as [string, string]] : []),
    ...(s.itl_p50_ms !== undefined ? [['ITL p50/p95/p99', `${s.itl_p50_ms.toFixed(2)} / ${s.itl_p95_ms?.toFixed(2)} / ${s.itl_p99_ms?.toFixed(2)} ms`] as [string, string]] : []),
    ['errors', errors],
    ['retries', String(s.retries)],
    ['memory', s.memory_gb === null ? `not measured${s.memory_note ? ` (${s.memory_note})` : ''}` : `${s.memory_gb} GiB`],
    ['results', `${s.resultsPath} (${s.resultsDigest.slice(0, 19)}…)${s.cached ? ' (cached)' : ''}`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(20)} ${v}`).join('\n');
}

interface RawOptions {
  endpoint?: string;
  dataset?: string;
  concurrency: string;
  timeoutMs: string;
  retries: string;
  model?: string;
  out: string;
  metricsUrl?: string;
  artifact?: string;
  serveCwd?: string;
  stateDir: string;
  cache: boolean;
  stream?: boolean;
  json?: boolean;
}

/** Registers `slipway eval` on a commander program. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('evaluate an OpenAI-compatible endpoint on a JSONL dataset: accuracy, latency p50/p95/p99, errors, peak memory')
    .option('--endpoint <url>', 'base URL of the OpenAI-compatible server')
    .option('--dataset <file>', 'JSONL rows: {"prompt"|"messages", "expected", "scorer"?}')
    .option('--concurrency <n>', 'requests in flight', '8')
    .option('--timeout-ms <ms>', 'timeout per request', '30000')
    .option('--retries <n>', 'retries per request on 408/429/5xx/network errors', '3')
    .option('--model <name>', 'model name sent with each request (default: the first of /v1/models)')
    .option('--out <dir>', 'directory for the per-row results JSONL', '.slipway/eval')
    .option('--metrics-url <url>', "the server's Prometheus metrics, for peak memory (default: <endpoint>/metrics)")
    .option('--artifact <file>', 'the served model file: identifies the model, so an identical evaluation comes from the cache')
    .option('--serve-cwd <dir>', 'with --artifact: the serving code, hashed into the cache key')
    .option('--state-dir <dir>', 'the cache lives in <state-dir>/cache/eval', process.env.SLIPWAY_STATE_DIR ?? '.slipway')
    .option('--no-cache', 'with --artifact: evaluate even when an identical evaluation is cached (the result replaces it)')
    .option('--stream', 'ask for streamed answers and measure time to first token and inter-token latency (p50/p95/p99)')
    .option('--json', 'print the summary as JSON (usable as `slipway gate --metrics`)')
    .addHelpText('after', '\nExample:\n  $ slipway eval --endpoint http://127.0.0.1:8000 --dataset examples/tiny-llm/eval.jsonl --concurrency 16 --json > metrics.json\n')
    .action(async (raw: RawOptions) => {
      const opts = toOptions(raw);
      if (typeof opts === 'string') return badInput(opts);
      const progress = process.stderr.isTTY && !raw.json ? progressLine() : undefined;
      try {
        const summary = await evalCommand(opts, { onProgress: progress?.update });
        progress?.clear();
        process.stdout.write((raw.json ? JSON.stringify(summary, null, 2) : formatEvalSummary(summary)) + '\n');
        const invalid = summary.errors.invalid_response ?? 0;
        if (invalid > 0) {
          process.stderr.write(`slipway eval: ${invalidResponses(invalid, summary.total, summary.first_invalid_response)}\n`);
          process.exitCode = 1;
        }
      } catch (err) {
        progress?.clear();
        if (!(err instanceof EvalError)) throw err;
        if (err.code === 'ENDPOINT_UNREACHABLE' || err.code === 'INVALID_RESPONSES') {
          process.stderr.write(`slipway eval: ${err.message}\n`);
          process.exitCode = 1;
        } else badInput(err.message);
      }
    });
}

function toOptions(raw: RawOptions): EvalCommandOptions | string {
  if (!raw.endpoint) return 'missing --endpoint <url>';
  if (!raw.dataset) return 'missing --dataset <file>';
  if (raw.serveCwd && !raw.artifact) return '--serve-cwd needs --artifact (without it nothing is cached)';
  const ints = { concurrency: Number(raw.concurrency), timeoutMs: Number(raw.timeoutMs), retries: Number(raw.retries) };
  for (const [flag, min, value] of [['--concurrency', 1, ints.concurrency], ['--timeout-ms', 1, ints.timeoutMs], ['--retries', 0, ints.retries]] as const) {
    if (!Number.isInteger(value) || value < min) return `${flag}: expected an integer >= ${min}`;
  }
  let metricsUrl = raw.metricsUrl;
  try {
    metricsUrl ??= defaultMetricsUrl(raw.endpoint);
  } catch {
    return `--endpoint: expected a URL such as http://127.0.0.1:8000, got ${raw.endpoint}`;
  }
  return {
    endpoint: raw.endpoint,
    datasetPath: raw.dataset,
    concurrency: ints.concurrency,
    requestTimeoutMs: ints.timeoutMs,
    maxRetries: ints.retries,
    model: raw.model,
    outputDir: raw.out,
    metricsUrl,
    artifact: raw.artifact,
    serveCwd: raw.serveCwd,
    stateDir: raw.stateDir,
    useCache: raw.cache,
    ...(raw.stream && { stream: true }),
  };
}

function badInput(message: string): void {
  process.stderr.write(`slipway eval: ${message}\n`);
  process.exitCode = 2;
}

/** A single self-rewriting stderr line, redrawn at most ten times a second (TTY only). */
function progressLine() {
  let last = 0;
  return {
    update: (p: { done: number; total: number; errors: number }) => {
      const now = performance.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      process.stderr.write(`\r\x1b[Kevaluating ${p.done}/${p.total}${p.errors ? ` (${p.errors} errors)` : ''}`);
    },
    clear: () => process.stderr.write('\r\x1b[K'),
  };
}
