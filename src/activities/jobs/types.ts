// Input, result and heartbeat shapes of the `trainModel` activity. Workflows import these with
// `import type`, so this file stays free of runtime code.

import type { ArtifactRef } from '../artifacts/store.js';
import type { JobResources } from './backend.js';

export type TrainParams = Record<string, string | number | boolean>;

export interface TrainInput {
  /** Idempotent job name, derived from the workflow id and stage/variant. */
  jobName: string;
  /** The JobBackend that runs it, by its registered name (the spec's `train.backend`; default `local`). */
  backend?: string;
  command: string[];
  /** Absolute working directory of the job. */
  cwd: string;
  env: Record<string, string>;
  /** Input files or folders, relative to `cwd`; their sha256 digests go into the cache key. */
  data: string[];
  /** Appended to the command as flags (see `paramsToFlags`). */
  params: TrainParams;
  /** Version of the training code (a git sha, a package version): part of the cache key. */
  codeVersion: string;
  useCache: boolean;
  /** What the job asks the cluster for (the spec's `train.resources`). */
  resources?: JobResources;
  /** Longest wait in the cluster's queue before the job runs (`train.queue_timeout`); none when left out. */
  queueTimeoutMs?: number;
  /** Longest run once the job runs (`train.timeout` for cluster backends, where the activity's own timeout also covers the queue). */
  runTimeoutMs?: number;
}

export interface LossPoint {
  step: number;
  loss: number;
}

export interface TrainResult {
  /** The artifact on the GPU host's disk (for logs; other hosts use `artifact`). */
  artifactPath: string;
  /** sha256 of the artifact file, hex. */
  artifactDigest: string;
  /** The artifact in the artifact store: how the serving and orchestration hosts reach it. */
  artifact: ArtifactRef;
  cacheKey: string;
  /** True when an identical earlier run's artifact was reused and nothing ran. */
  cached: boolean;
  /** Step the job resumed from (it reported `resumed`), null for a fresh start. */
  resumedFromStep: number | null;
  finalStep: number | null;
  finalLoss: number | null;
  /** The launch's loss curve, downsampled to at most 200 points (for MLflow). */
  lossByStep: LossPoint[];
  logPath: string;
  durationMs: number;
}

/** Heartbeat details: what a retry needs to resume instead of starting at step 0. */
export interface TrainHeartbeat {
  step: number | null;
  /** The job's own `total_steps`, when it reports one (for progress bars; not needed to resume). */
  totalSteps?: number | null;
  loss: number | null;
  /** Path of the last checkpoint the job reported (or the one this attempt resumed from). */
  checkpoint: string | null;
  checkpointStep: number | null;
  /** The same checkpoint in the artifact store (`path` says which local file it was stored from). */
  checkpointRef: (ArtifactRef & { path: string }) | null;
  /** Where the job is on the cluster: `pending` with the engine's reason while it waits in the queue. */
  job?: { id: string; state: 'pending' | 'running'; reason?: string };
}
