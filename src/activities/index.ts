// The activities of each role, built once per worker from the runtime the worker was given.
import path from 'node:path';
import type { Role } from '../queues.js';
import type { ArtifactStore } from './artifacts/store.js';
import { createCheckActivities } from './checks/run-check.js';
import { createDeployActivities } from './deploy/activities.js';
import { createRolloutActivities } from './deploy/rollout-activities.js';
import type { DeployTarget } from './deploy/target.js';
import { createEvaluationActivities } from './evaluation/activities.js';
import type { JobBackend } from './jobs/backend.js';
import { createClusterServerActivities } from './jobs/cluster-server.js';
import { clusterServerRecords } from './jobs/cluster-server-records.js';
import { createJobActivities } from './jobs/train.js';
import type { MlflowConfig } from './mlflow/client.js';
import { createMlflowActivities } from './mlflow/tracking.js';
import { createNotifyActivities } from './notify/webhook.js';
import { createReleaseActivities } from './releases.js';

/** Everything activities need from the outside, read once at the edge (worker or test). */
export interface SlipwayRuntime {
  /** This worker's own directory: job logs, checkpoints, caches, deployments, fetched artifacts. */
  stateDir: string;
  /** MLflow connection (from MLFLOW_TRACKING_* env vars); secrets stay here, out of history. */
  mlflow: MlflowConfig;
  /** The worker's environment, for webhook URLs named in specs. */
  env: NodeJS.ProcessEnv;
  /** Job backends by the name a spec's `train.backend` picks. */
  jobBackends: Record<string, JobBackend>;
  /** Deploy targets by the name a spec's `deploy.target` picks. */
  deployTargets: Record<string, DeployTarget>;
  /** Where artifacts travel between hosts. */
  artifacts: ArtifactStore;
}

/** gpu: training jobs, and evaluation servers run as cluster jobs, through the registered job backends. */
export function createTrainingActivities(rt: SlipwayRuntime) {
  return {
    ...createJobActivities({ stateDir: rt.stateDir, backends: rt.jobBackends, artifacts: rt.artifacts }),
    ...createClusterServerActivities({ backends: rt.jobBackends, artifacts: rt.artifacts, records: clusterServerRecords(rt.stateDir) }),
  };
}

/** serving: candidate servers, the stable endpoint, evaluation and smoke tests against them, monitor samples. */
export function createServingActivities(rt: SlipwayRuntime) {
  return {
    ...createDeployActivities({ targets: rt.deployTargets, artifacts: rt.artifacts }),
    // SLIPWAY_PROMETHEUS_URL: where canary analyses query (slipway dev sets it to its own Prometheus).
    ...createRolloutActivities({ targets: rt.deployTargets, prometheusUrl: rt.env.SLIPWAY_PROMETHEUS_URL }),
    ...createEvaluationActivities({ stateDir: rt.stateDir, cacheDir: path.join(rt.stateDir, 'cache', 'eval'), outputDir: path.join(rt.stateDir, 'evals') }),
  };
}

/** orchestration: MLflow tracking and registry, and reading releases for rollbacks. */
export function createTrackingActivities(rt: SlipwayRuntime) {
  return { ...createMlflowActivities({ config: rt.mlflow, artifacts: rt.artifacts }), ...createReleaseActivities() };
}

/** orchestration: notifications. */
export function createNotificationActivities(rt: SlipwayRuntime) {
  return createNotifyActivities(rt.env);
}

/** orchestration: the light CI checks. */
export function createChecksActivities(rt: SlipwayRuntime) {
  return createCheckActivities({ stateDir: rt.stateDir });
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
export type ServingActivities = ReturnType<typeof createServingActivities>;
export type TrackingActivities = ReturnType<typeof createTrackingActivities>;
export type NotificationActivities = ReturnType<typeof createNotificationActivities>;

/** The activities one role's worker registers. */
export function createRoleActivities(role: Role, rt: SlipwayRuntime): Record<string, (...args: never[]) => Promise<unknown>> {
  switch (role) {
    case 'gpu':
      return createTrainingActivities(rt);
    case 'serving':
      return createServingActivities(rt);
    case 'orchestration':
      return { ...createTrackingActivities(rt), ...createNotificationActivities(rt), ...createChecksActivities(rt) };
  }
}
