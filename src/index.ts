// Slipway's library entry: the plugin for existing workers, the worker factory, and the typed client.
export { slipwayPlugin, type SlipwayPluginOptions } from './plugin.js';
export { createSlipwayWorkers, TASK_QUEUE, DEFAULT_GPU_TASK_QUEUE } from './worker.js';
export { SlipwayClient } from './client/slipway-client.js';
export { loadSpec, SpecError } from './client/spec-file.js';
export { PipelineSpecSchema, type PipelineSpec } from './spec/schema.js';
export type { PipelineStatus, Stage } from './workflows/status.js';
export { mlflowConfigFromEnv, type MlflowConfig } from './activities/mlflow/client.js';
