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
import { SlurmJobBackend } from './activities/jobs/slurm.js';
import type { MlflowConfig } from './activities/mlflow/client.js';

export type { SlipwayRuntime } from './activities/index.js';

export interface RuntimeOptions {
  /** This worker's own directory (jobs, caches, deployments, fetched artifacts); hosts share none. */
  stateDir: string;
  mlflow: MlflowConfig;
  env: NodeJS.ProcessEnv;
  /** Extra or replacement job backends by name; `local` (subprocesses) is always offered unless replaced. */
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
    deployTargets: o.deployTargets?.local ? o.deployTargets : { local: new LocalDeployTarget({ stateDir }), ...o.deployTargets },
    artifacts: typeof o.artifacts === 'object' ? o.artifacts : artifactStore(o.artifacts ?? 'local', stateDir, o.mlflow, o.artifactsDir),
  };
}

/** `local` unless replaced, and `slurm` when the worker was told where the cluster is. */
function withDefaultBackends(o: RuntimeOptions, stateDir: string): Record<string, JobBackend> {
  const slurmConf = o.slurmConf ?? o.env.SLURM_CONF;
  if (o.jobBackends?.local && (o.jobBackends.slurm || !slurmConf)) return o.jobBackends;
  return {
    local: new LocalJobBackend({ stateDir }),
    ...(slurmConf ? { slurm: new SlurmJobBackend({ stateDir, slurmConf: path.resolve(slurmConf) }) } : {}),
    ...o.jobBackends,
  };
}

/** The artifact store of a kind, with its cache of fetched files under this worker's state dir. */
export function artifactStore(kind: ArtifactStoreKind, stateDir: string, mlflow: MlflowConfig, localDir?: string): ArtifactStore {
  const cacheDir = path.join(stateDir, 'cache', 'artifacts');
  return kind === 'mlflow' ? new MlflowArtifactStore({ config: mlflow, cacheDir }) : new LocalArtifactStore({ root: path.resolve(localDir ?? path.join(stateDir, 'artifacts')), cacheDir });
}
