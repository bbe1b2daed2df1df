// Slipway's library entry: the plugin for existing workers, the worker factory, the runtime's
// contracts (job backends, deploy targets, artifact stores) and the typed client.
export { slipwayPlugin, type SlipwayPluginOptions } from './plugin.js';
export { createSlipwayWorkers, TASK_QUEUE, type SlipwayWorkerOptions, type SlipwayWorkers } from './worker.js';
export { DEFAULT_QUEUES, ROLES, type Role, type SlipwayQueues } from './queues.js';
/** The 0.1 name of the gpu role's default queue. */
export const DEFAULT_GPU_TASK_QUEUE = 'slipway-gpu';
export { resolveRuntime, artifactStore, type RuntimeOptions, type SlipwayRuntime, type ArtifactStoreKind } from './runtime.js';
export type { JobBackend, JobSpec, JobHandle, JobStatus, JobEvent } from './activities/jobs/backend.js';
export { LocalJobBackend } from './activities/jobs/local.js';
export type { DeployTarget, CandidateRequest, PromoteRequest, RollbackRequest, DeploymentStatus } from './activities/deploy/target.js';
export { LocalDeployTarget } from './activities/deploy/local.js';
export { reconcileOnce, repeatEvery, startReconciler, type Reconcilable, type ReleaseRunning } from './activities/deploy/reconciler.js';
export { clusterServerRecords, stopOrphanedClusterServers, type ClusterServerRecord } from './activities/jobs/cluster-server-records.js';
export type { ArtifactRef, ArtifactStore } from './activities/artifacts/store.js';
export { SlipwayClient } from './client/slipway-client.js';
export { releaseStart } from './client/release-start.js';
export { loadSpec, SpecError } from './client/spec-file.js';
export { PipelineSpecSchema, type PipelineSpec } from './spec/schema.js';
export type { PipelineStatus, Stage } from './workflows/status.js';
export { mlflowConfigFromEnv, type MlflowConfig } from './activities/mlflow/client.js';
