// Caches evaluation summaries: an identical evaluation of an identical model is not sent again.
// The key holds everything that can change the numbers: the model's digest; the dataset's digest
// (each row carries its prompt, expected answer and scorer settings, so this covers scoring); the
// model name and request settings; and how the model is served (the serve command and a digest of
// the serving code under serve.cwd). Concurrency is part of it on purpose: latency percentiles and
// throughput are measured under that load, and the gate reads latency_p99_ms. The endpoint and its
// metrics URL are not: the same model is served on a new port by every deploy. The version string
// changes whenever the harness or the scorers change what they compute.
// Entries live in `<stateDir>/cache/eval/<key>.json`; deleting that folder clears the cache.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../../system/files.js';
import { digestTree } from '../jobs/cache.js';
import type { EvalCacheRequest, EvalSummary, EvaluateOptions } from './types.js';

export interface EvalCacheKey {
  modelDigest: string;
  datasetDigest: string;
  model?: string;
  concurrency: number;
  requestTimeoutMs: number;
  maxRetries: number;
  stream?: boolean;
  /** The serve command and digestTree of its cwd; null when unknown (an endpoint evaluated by hand). */
  serve: { command: string[]; codeDigest: string } | null;
}

/** A stable hex key: fields in a fixed order, versioned so a format change invalidates old entries. */
export function evalCacheKey(k: EvalCacheKey): string {
  const canonical = JSON.stringify([
    'slipway-eval-v2',
    k.modelDigest,
    k.datasetDigest,
    k.model ?? null,
    k.concurrency,
    k.requestTimeoutMs,
    k.maxRetries,
    k.serve?.command ?? null,
    k.serve?.codeDigest ?? null,
    // Appended only when set, so the keys of unstreamed evaluations stay what they were.
    ...(k.stream ? ['stream'] : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** `sha256:<hex>` of a file, streamed (datasets and result files can be large). */
export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The cache key of an evaluation, or why it has none: no model digest (nothing identifies the
 * model), an unreadable dataset (the harness reports that itself), or serving code that cannot be
 * hashed. Without a key the evaluation simply runs; a wrong key would serve stale numbers.
 */
export async function evalCacheKeyFor(
  opts: Pick<EvaluateOptions, 'datasetPath' | 'model' | 'concurrency' | 'requestTimeoutMs' | 'maxRetries' | 'stream'>,
  req: EvalCacheRequest,
  exclude: string[],
): Promise<{ key: string; datasetDigest: string } | { key: null; why: string }> {
  if (!req.modelDigest) return { key: null, why: 'no model digest' };
  let datasetDigest: string;
  try {
    datasetDigest = await fileDigest(opts.datasetPath);
  } catch {
    return { key: null, why: `dataset ${opts.datasetPath} unreadable` };
  }
  let serve: EvalCacheKey['serve'] = null;
  if (req.serve) {
    try {
      serve = { command: req.serve.command, codeDigest: await digestTree(req.serve.cwd, { exclude }) };
    } catch (err) {
      return { key: null, why: `serving code unhashable: ${(err as Error).message}` };
    }
  }
  const { model, concurrency, requestTimeoutMs, maxRetries, stream } = opts;
  return { key: evalCacheKey({ modelDigest: req.modelDigest, datasetDigest, model, concurrency, requestTimeoutMs, maxRetries, stream, serve }), datasetDigest };
}

export class EvalCache {
  constructor(private readonly dir: string) {}

  /** The stored summary with `cached: true`, or null; an entry whose results file is gone or changed is a miss. */
  async get(key: string): Promise<EvalSummary | null> {
    let summary: EvalSummary;
    try {
      summary = JSON.parse(await readFile(this.file(key), 'utf8')) as EvalSummary;
      if ((await fileDigest(summary.resultsPath)) !== summary.resultsDigest) return null;
    } catch {
      return null;
    }
    return { ...summary, cached: true };
  }

  /** Stores a summary atomically (write then rename), so a crash never leaves a torn entry. */
  async put(key: string, summary: EvalSummary): Promise<void> {
    writeJsonAtomic(this.file(key), { ...summary, cached: false });
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }
}
