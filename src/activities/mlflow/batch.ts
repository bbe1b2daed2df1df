/** MLflow's per-request limits for runs/log-batch (mlflow/utils/validation.py). */
export const BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;

export interface BatchMetric {
  key: string;
  value: number;
  /** Milliseconds since the epoch; give it explicitly so a retried batch writes identical rows. */
  timestamp: number;
  step: number;
}

export interface BatchInput {
  metrics?: BatchMetric[];
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface BatchPart {
  metrics: BatchMetric[];
  params: Array<{ key: string; value: string }>;
  tags: Array<{ key: string; value: string }>;
}

/**
 * Splits a batch into runs/log-batch requests that each respect MLflow's limits: at most 1000
 * metrics, 100 params and 100 tags, and 1000 entities in all. Params and tags go first so a
 * rejected param (MLflow forbids changing one) fails before any metric is written.
 */
export function splitBatch(batch: BatchInput): BatchPart[] {
  const metrics = [...(batch.metrics ?? [])];
  const params = Object.entries(batch.params ?? {}).map(([key, value]) => ({ key, value }));
  const tags = Object.entries(batch.tags ?? {}).map(([key, value]) => ({ key, value }));
  const parts: BatchPart[] = [];
  while (metrics.length > 0 || params.length > 0 || tags.length > 0) {
    const p = params.splice(0, BATCH_LIMITS.params);
    const t = tags.splice(0, BATCH_LIMITS.tags);
    const room = Math.min(BATCH_LIMITS.metrics, BATCH_LIMITS.total - p.length - t.length);
    parts.push({ metrics: metrics.splice(0, room), params: p, tags: t });
  }
  return parts;
}

/** A dataset an evaluation or training run used, identified by name and content digest. */
export interface DatasetInput {
  name: string;
  digest: string;
  /** e.g. 'local', 'http', 's3'. */
  sourceType: string;
  /** JSON text describing where it lives, e.g. {"uri": "file:///data/eval.jsonl"}. */
  source: string;
  schema?: string;
  profile?: string;
  /** Stored as the `mlflow.data.context` input tag: 'training', 'evaluation', ... */
  context?: string;
}

export function toDatasetInputs(datasets: DatasetInput[]): unknown[] {
  return datasets.map((d) => ({
    tags: d.context === undefined ? [] : [{ key: 'mlflow.data.context', value: d.context }],
    dataset: { name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source, schema: d.schema, profile: d.profile },
  }));
}
