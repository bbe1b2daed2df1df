// The deploy target contract. Local processes implement it today; a GitOps target (commit the
// version to a deployment repo) or a KServe target (patch an InferenceService) can implement the
// same calls later, so the workflow never learns how a version is actually served.
import { SlipwayError } from '../../errors.js';

/** How to start a model server for one version: the spec's `serve` block, with durations in ms. */
export interface ServeConfig {
  /** argv; `{model}` becomes the artifact path and `{port}` the port chosen for this version. */
  command: string[];
  cwd: string;
  healthPath: string;
  startupTimeoutMs: number;
}

export interface CandidateRequest {
  /** Stable across retries: derived from the pipeline (workflow id / model name), never random. */
  deploymentName: string;
  version: string;
  artifactPath: string;
  serve: ServeConfig;
  env?: Record<string, string>;
  /** The release that wants this candidate (its workflow id): a reconciler may stop it once that release is gone. */
  owner?: string;
}

export interface CandidateEndpoint {
  /** Base URL of this version alone (not the stable endpoint), e.g. for evaluation and smoke tests. */
  endpoint: string;
}

export interface PromoteRequest {
  deploymentName: string;
  version: string;
  /** The stable endpoint's port (the spec's `deploy.port`); targets that route elsewhere ignore it. */
  port: number;
}

export interface PromoteResult {
  /** The stable URL that always reaches the live version. */
  endpoint: string;
  /** What was live before; on an idempotent re-promote, the same answer as the first call. */
  previousVersion: string | null;
}

export interface RollbackResult {
  endpoint: string;
  restoredVersion: string;
  rolledBackVersion: string;
}

export interface VersionStatus {
  version: string;
  endpoint: string | null;
  running: boolean;
}

export interface DeploymentStatus {
  deploymentName: string;
  live: string | null;
  previous: string | null;
  stableEndpoint: string | null;
  versions: VersionStatus[];
  /** The version taking part of the traffic next to the live one, if any. */
  canary: { version: string; weight: number } | null;
  /** Each version's share (percent) of the stable endpoint's traffic. */
  weights: Record<string, number>;
  /** Where the router's own Prometheus metrics are, when it exposes them. */
  routerMetrics?: string | null;
}

export interface CanaryRequest {
  deploymentName: string;
  version: string;
  /** Percent of the stable endpoint's traffic for `version` (0..100); the live version gets the rest. 0 takes it out. */
  weight: number;
  port: number;
}

export interface CanaryResult {
  endpoint: string;
  /** Each version's share after the change. */
  weights: Record<string, number>;
}

/**
 * A place versions run. Every call converges on a desired state and is safe to repeat: a retried
 * Temporal activity calls it again with the same input and must get the same outcome.
 */
export interface DeployTarget {
  readonly kind: string;
  /** Ensures `version` runs and answers health; returns its own endpoint. */
  ensureCandidate(req: CandidateRequest): Promise<CandidateEndpoint>;
  /** Ensures the stable endpoint serves `version` alone (a canary of it becomes live), keeping the version it replaces ready for rollback. */
  promote(req: PromoteRequest): Promise<PromoteResult>;
  /** Ensures `version` gets `weight`% of the stable endpoint beside the live version, in one router update. */
  setCanary(req: CanaryRequest): Promise<CanaryResult>;
  /** Ensures the stable endpoint serves the previous version again and stops the current one. */
  rollback(req: RollbackRequest): Promise<RollbackResult>;
  /** Ensures a version that is not live is no longer running; the live version is left alone. */
  stop(req: { deploymentName: string; version: string }): Promise<{ stopped: boolean }>;
  status(req: { deploymentName: string }): Promise<DeploymentStatus>;
}

export interface RollbackRequest {
  deploymentName: string;
  /** Roll back only if this version is live: a later release must not be undone by mistake. */
  expectedLive?: string;
}

export type DeployErrorType =
  | 'ModelServerFailedToStart'
  | 'NoPreviousVersion'
  | 'VersionNotLive'
  | 'VersionNotDeployed'
  | 'StablePortInUse'
  | 'InvalidDeploymentName'
  | 'RouterFailedToStart'
  | 'InvalidWeight'
  | 'NoStableVersion'
  | 'VersionAlreadyLive';

/** Failures that are not worth retrying as-is; the activity layer maps them onto ApplicationFailure types. */
const NON_RETRYABLE: ReadonlySet<DeployErrorType> = new Set([
  'ModelServerFailedToStart',
  'NoPreviousVersion',
  'VersionNotLive',
  'VersionNotDeployed',
  'StablePortInUse',
  'InvalidDeploymentName',
  'InvalidWeight',
  'NoStableVersion',
  'VersionAlreadyLive',
]);

/** A deploy failure with a stable `type` (branch on it, never on the message) and JSON details. */
export class DeployError extends SlipwayError {
  readonly code: string;
  constructor(
    readonly type: DeployErrorType,
    message: string,
    override readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
    this.code = `SLIPWAY_${type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
  }

  get retryable(): boolean {
    return !NON_RETRYABLE.has(this.type);
  }

  /** The same answer in ApplicationFailure's terms (callers and tests read it). */
  get nonRetryable(): boolean {
    return !this.retryable;
  }

}
