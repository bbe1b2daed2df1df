import { z } from 'zod';

// MLflow's REST answers, checked at the edge. int64 fields may arrive as JSON strings and
// proto3 may leave out fields at their default value, hence the coercions and defaults.

const int64 = z.union([z.number(), z.string()]).transform(Number);
// A metric value can be "NaN"/"Infinity" in MLflow's JSON.
const metricValue = z.union([z.number(), z.string()]).transform(Number);

const keyValues = z
  .array(z.object({ key: z.string(), value: z.string().default('') }))
  .default([])
  .transform((kv) => Object.fromEntries(kv.map((t) => [t.key, t.value])) as Record<string, string>);

export const experimentSchema = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string().default(''),
  lifecycle_stage: z.string().default('active'),
});
export type Experiment = z.output<typeof experimentSchema>;

export const metricSchema = z.object({
  key: z.string(),
  value: metricValue.default(0),
  timestamp: int64.default(0),
  step: int64.default(0),
});
export type Metric = z.output<typeof metricSchema>;

export const runSchema = z.object({
  info: z.object({
    run_id: z.string(),
    experiment_id: z.string(),
    run_name: z.string().default(''),
    status: z.string().default('RUNNING'),
    start_time: int64.optional(),
    end_time: int64.optional(),
    artifact_uri: z.string().default(''),
    lifecycle_stage: z.string().default('active'),
  }),
  data: z
    .object({ metrics: z.array(metricSchema).default([]), params: keyValues, tags: keyValues })
    .default({ metrics: [], params: {}, tags: {} }),
});
export type Run = z.output<typeof runSchema>;

export const modelVersionSchema = z.object({
  name: z.string(),
  version: z.string(),
  source: z.string().default(''),
  run_id: z.string().default(''),
  status: z.string().default('READY'),
  status_message: z.string().default(''),
  tags: keyValues,
  aliases: z.array(z.string()).default([]),
});
export type ModelVersion = z.output<typeof modelVersionSchema>;

export const registeredModelSchema = z.object({
  name: z.string(),
  aliases: z
    .array(z.object({ alias: z.string(), version: z.string() }))
    .default([]),
  tags: keyValues,
});
export type RegisteredModel = z.output<typeof registeredModelSchema>;

export const empty = z.object({});
export const getExperimentResponse = z.object({ experiment: experimentSchema });
export const createExperimentResponse = z.object({ experiment_id: z.string() });
export const runResponse = z.object({ run: runSchema });
export const searchRunsResponse = z.object({ runs: z.array(runSchema).default([]), next_page_token: z.string().optional() });
export const metricHistoryResponse = z.object({ metrics: z.array(metricSchema).default([]), next_page_token: z.string().optional() });
export const modelVersionResponse = z.object({ model_version: modelVersionSchema });
export const registeredModelResponse = z.object({ registered_model: registeredModelSchema });
export const searchModelVersionsResponse = z.object({
  model_versions: z.array(modelVersionSchema).default([]),
  next_page_token: z.string().optional(),
});
