// Caches evaluation summaries: an identical evaluation of an identical model is not sent again.
// The key holds what changes the numbers: the model's digest, the dataset's digest, the model name
// and the request settings. Concurrency is part of it on purpose: latency percentiles and
// throughput are measured under that load, and the gate reads latency_p99_ms. The endpoint is
// not: the same model is served on a new port by every deploy.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EvalSummary } from './types.js';

export interface EvalCacheKey {
  modelDigest: string;
  datasetDigest: string;
  model?: string;
  concurrency: number;
  requestTimeoutMs: number;
  maxRetries: number;
}

/** A stable hex key: fields in a fixed order, versioned so a format change invalidates old entries. */
export function evalCacheKey(k: EvalCacheKey): string {
  const canonical = JSON.stringify(['slipway-eval-v1', k.modelDigest, k.datasetDigest, k.model ?? null, k.concurrency, k.requestTimeoutMs, k.maxRetries]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** `sha256:<hex>` of a file, streamed (datasets and result files can be large). */
export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
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
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.file(key)}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...summary, cached: false }, null, 2));
    await rename(tmp, this.file(key));
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }
}
