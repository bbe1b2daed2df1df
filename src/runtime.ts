// A worker's runtime: its state directory, MLflow, and the named job backends, deploy targets and
// artifact store it offers. `local` implementations are there unless the host replaces them.
import path from 'node:path';
import type { SlipwayRuntime } from './activities/index.js';
import { LocalArtifactStore } from './activities/artifacts/local.js';
import { MlflowArtifactStore } from './activities/artifacts/mlflow.js';
import type { ArtifactStore } from './activities/artifacts/store.js';
import { LocalDeployTarget } from './activities/deploy/local.js';
import type { DeployTarget } from './activities/deploy/target.js';
import type { JobBackend } from './activities/jobs/backend.js';
import { LocalJobBackend } from './activities/jobs/local.js';
import { RayJobBackend } from './activities/jobs/ray.js';
import { SlurmJobBackend } from './activities/jobs/slurm.js';
import type { MlflowConfig } from './activities/mlflow/client.js';

export type { SlipwayRuntime } from './activities/index.js';

export interface RuntimeOptions {
  /** This worker's own directory (jobs, caches, deployments, fetched artifacts); hosts share none. */
  stateDir: string;
  mlflow: MlflowConfig;
  env: NodeJS.ProcessEnv;
  /**
   * Extra or replacement job backends by name; `local` (subprocesses) is always offered unless replaced,
   * and `ray` when `env.RAY_ADDRESS` names a Ray cluster's dashboard (http://host:8265), as for Ray's own tools.
   */
  jobBackends?: Record<string, JobBackend>;
  /** Extra or replacement deploy targets by name; `local` (processes behind a router) unless replaced. */
  deployTargets?: Record<string, DeployTarget>;
  /** Where artifacts travel between hosts (default: a directory under stateDir, for one host or a shared disk). */
  artifacts?: ArtifactStore | ArtifactStoreKind;
  /** The `local` store's directory; put it on a filesystem the hosts share (default `<stateDir>/artifacts`). */
  artifactsDir?: string;
  /** A Slurm cluster to offer as the `slurm` backend: its slurm.conf (default: `SLURM_CONF` in `env`; neither: no `slurm`). */
  slurmConf?: string;
}

/** `local`: a directory (one host or a shared filesystem); `mlflow`: MLflow's proxied artifact API (no shared disk). */
export type ArtifactStoreKind = 'local' | 'mlflow';
export const ARTIFACT_STORE_KINDS: readonly ArtifactStoreKind[] = ['local', 'mlflow'];

/** Fills in the local defaults; a runtime that is already complete comes back with the same objects. */
export function resolveRuntime(o: RuntimeOptions): SlipwayRuntime {
  const stateDir = path.resolve(o.stateDir);
  return {
    stateDir,
    mlflow: o.mlflow,
    env: o.env,
    jobBackends: withDefaultBackends(o, stateDir),
    // SLIPWAY_TEST_PAUSE_AT: a test hook (see LocalDeployTargetOptions.testPauseAt), unset in production.
    deployTargets: o.deployTargets?.local ? o.deployTargets : { local: new LocalDeployTarget({ stateDir, testPauseAt: o.env.SLIPWAY_TEST_PAUSE_AT }), ...o.deployTargets },
    artifacts: typeof o.artifacts === 'object' ? o.artifacts : artifactStore(o.artifacts ?? 'local', stateDir, o.mlflow, o.artifactsDir, jobAuthorization(o.env)),
  };
}

/** `local` unless replaced, `slurm` and `ray` when the worker was told where the cluster is. */
function withDefaultBackends(o: RuntimeOptions, stateDir: string): Record<string, JobBackend> {
  const slurmConf = o.slurmConf ?? o.env.SLURM_CONF;
  const rayAddress = o.env.RAY_ADDRESS?.trim();
  if (o.jobBackends?.local && (o.jobBackends.slurm || !slurmConf) && (o.jobBackends.ray || !rayAddress)) return o.jobBackends;
  return {
    local: new LocalJobBackend({ stateDir }),
    ...(slurmConf ? { slurm: new SlurmJobBackend({ stateDir, slurmConf: path.resolve(slurmConf) }) } : {}),
    ...rayBackends(stateDir, o.env),
    ...o.jobBackends,
  };
}

/** The artifact store of a kind, with its cache of fetched files under this worker's state dir. */
export function artifactStore(kind: ArtifactStoreKind, stateDir: string, mlflow: MlflowConfig, localDir?: string, jobAuth?: string): ArtifactStore {
  const cacheDir = path.join(stateDir, 'cache', 'artifacts');
  return kind === 'mlflow' ? new MlflowArtifactStore({ config: mlflow, cacheDir, ...(jobAuth ? { jobAuthorization: jobAuth } : {}) }) : new LocalArtifactStore({ root: path.resolve(localDir ?? path.join(stateDir, 'artifacts')), cacheDir });
}

/** Raised when the environment names a cluster in a form Slipway cannot use; the message says the fix. */
export class ClusterConfigError extends Error {
  readonly code = 'SLIPWAY_CLUSTER_CONFIG';
}

/** The Ray backend when the environment points at a cluster: `ray` from RAY_ADDRESS (the dashboard, where the Jobs API is). */
export function rayBackends(stateDir: string, env: NodeJS.ProcessEnv): Record<string, JobBackend> {
  const address = env.RAY_ADDRESS?.trim();
  if (!address) return {};
  if (!/^https?:\/\/[^/]+\/?$/.test(address)) {
    throw new ClusterConfigError(
      `RAY_ADDRESS=${address}: expected the Ray dashboard's http://host:port (where the Jobs API is, 8265 by default), ` +
        'not the GCS address or a ray:// client address',
    );
  }
  // Each launch writes under <outputRoot>/<submission id>/output on the node that runs it.
  const outputRoot = env.SLIPWAY_RAY_OUTPUT_ROOT ?? path.join(stateDir, 'ray-jobs');
  return { ray: new RayJobBackend({ address: address.replace(/\/$/, ''), outputRoot }) };
}

/**
 * The credential jobs get for the MLflow artifact store: SLIPWAY_JOB_MLFLOW_TOKEN (bearer) or
 * SLIPWAY_JOB_MLFLOW_USERNAME/_PASSWORD (basic), made for jobs; the worker's own MLflow password is never passed on.
 */
export function jobAuthorization(env: NodeJS.ProcessEnv): string | undefined {
  if (env.SLIPWAY_JOB_MLFLOW_USERNAME && env.SLIPWAY_JOB_MLFLOW_PASSWORD) {
    return `Basic ${Buffer.from(`${env.SLIPWAY_JOB_MLFLOW_USERNAME}:${env.SLIPWAY_JOB_MLFLOW_PASSWORD}`).toString('base64')}`;
  }
  return env.SLIPWAY_JOB_MLFLOW_TOKEN ? `Bearer ${env.SLIPWAY_JOB_MLFLOW_TOKEN}` : undefined;
}
