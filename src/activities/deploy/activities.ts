// Deploy and production-metrics activities. Each takes one small JSON input and returns one small
// JSON result; typed failures become ApplicationFailures whose `type` the workflow branches on.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { heartbeating } from '../heartbeating.js';
import { asActivityFailure } from '../../errors.js';
import { sampleServing, windowStats, type Snapshot, type WindowStats } from '../metrics/prometheus.js';
import type { ArtifactRef, ArtifactStore } from '../artifacts/store.js';
import { unknownImplementation } from '../registry.js';
import { type CandidateEndpoint, type CandidateRequest, type DeploymentStatus, type DeployTarget, type PromoteRequest, type PromoteResult, type RollbackRequest, type RollbackResult } from './target.js';

/** Which registered DeployTarget acts (the spec's `deploy.target`; default `local`). */
export interface OnTarget {
  target?: string;
}

export interface DeployCandidateInput extends Omit<CandidateRequest, 'artifactPath'>, OnTarget {
  /** The model in the artifact store; the serving host fetches it (verified, cached by digest). */
  artifact?: ArtifactRef;
  /** Runs started before artifacts travelled by URI name a path on the (then shared) host instead. */
  artifactPath?: string;
}
export type PromoteVersionInput = PromoteRequest & OnTarget;
export type RollbackDeploymentInput = RollbackRequest & OnTarget;
export interface StopCandidateInput extends OnTarget {
  deploymentName: string;
  version: string;
}

export interface SampleProductionMetricsInput {
  /** The stable endpoint (or any server exposing /health and /metrics). */
  endpoint: string;
  /** The last sample's snapshot; null on the first sample of a monitor. */
  previous: Snapshot | null;
  healthPath?: string;
}

export interface SampleProductionMetricsResult {
  snapshot: Snapshot | null;
  /** False when the endpoint is unreachable or its health check fails: the monitor counts a breach. */
  healthy: boolean;
  window: WindowStats | null;
  reason?: string;
}


const errorText = (err: unknown) => (err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err));

export interface DeployActivityDeps {
  /** The deploy targets this worker offers, by name. */
  targets: Record<string, DeployTarget>;
  artifacts: ArtifactStore;
}

/** Builds the deploy activities over the worker's registered deploy targets. */
export function createDeployActivities(deps: DeployActivityDeps) {
  /** The target the input names, and the request without its name. */
  const targetOf = <T extends OnTarget>({ target: name = 'local', ...request }: T): [DeployTarget, Omit<T, 'target'>] => {
    const target = deps.targets[name];
    if (!target) throw unknownImplementation('DeployTarget', name, deps.targets);
    return [target, request];
  };
  return {
    /** Ensures the candidate's model server runs and is healthy; a retry reuses the running server. */
    async deployCandidate(input: DeployCandidateInput): Promise<CandidateEndpoint> {
      const [target, { artifact, artifactPath, ...request }] = targetOf(input);
      const started = await heartbeating(async () => {
        const local = artifact ? await asActivityFailure(() => deps.artifacts.fetch(artifact)) : artifactPath;
        if (!local) throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: 'deployCandidate needs an artifact ({ uri, sha256 })' });
        // The owner lets the serving worker's reconciler stop this server once the release is gone.
        const owner = Context.current().info.workflowExecution?.workflowId;
        return asActivityFailure(() => target.ensureCandidate({ ...request, artifactPath: local, ...(owner ? { owner } : {}) }));
      });
      log.info('candidate ready', { deployment: input.deploymentName, version: input.version, endpoint: started.endpoint });
      return { endpoint: started.endpoint };
    },

    /** Points the stable endpoint at `version`, keeping the replaced version for rollback. */
    async promoteVersion(input: PromoteVersionInput): Promise<PromoteResult> {
      const [target, request] = targetOf(input);
      const result = await heartbeating(() => asActivityFailure(() => target.promote(request)));
      log.info('version promoted', { deployment: input.deploymentName, version: input.version, previous: result.previousVersion });
      return result;
    },

    /** Restores the previous version on the stable endpoint; fails with NoPreviousVersion if none. */
    async rollbackDeployment(input: RollbackDeploymentInput): Promise<RollbackResult> {
      const [target, request] = targetOf(input);
      const result = await heartbeating(() => asActivityFailure(() => target.rollback(request)));
      log.warn('deployment rolled back', { deployment: input.deploymentName, ...result });
      return result;
    },

    /** What the target serves now: the live and previous versions and the stable endpoint. */
    async describeDeployment(input: OnTarget & { deploymentName: string }): Promise<DeploymentStatus> {
      const [target, request] = targetOf(input);
      return heartbeating(() => asActivityFailure(() => target.status(request)));
    },

    /** Stops a candidate that was not promoted (e.g. it lost at the gate); a live version is left running. */
    async stopCandidate(input: StopCandidateInput): Promise<void> {
      const [target, request] = targetOf(input);
      const { stopped } = await heartbeating(() => asActivityFailure(() => target.stop(request)));
      log.info(stopped ? 'candidate stopped' : 'candidate not running or live; nothing stopped', { deployment: input.deploymentName, version: input.version });
    },

    /**
     * One production sample: health probe plus a /metrics scrape, and the window since `previous`.
     * Unreachable is an answer (healthy: false), not a failure, so the monitor can count it.
     */
    async sampleProductionMetrics(input: SampleProductionMetricsInput): Promise<SampleProductionMetricsResult> {
      const healthUrl = new URL(input.healthPath ?? '/health', input.endpoint);
      try {
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(5_000) });
        await res.body?.cancel();
        if (!res.ok) return { snapshot: null, healthy: false, window: null, reason: `GET ${healthUrl.pathname} answered ${res.status}` };
      } catch (err) {
        return { snapshot: null, healthy: false, window: null, reason: `unreachable: ${errorText(err)}` };
      }
      try {
        const snapshot = await sampleServing(input.endpoint);
        return { snapshot, healthy: true, window: input.previous ? windowStats(input.previous, snapshot) : null };
      } catch (err) {
        return { snapshot: null, healthy: true, window: null, reason: `metrics unavailable: ${errorText(err)}` };
      }
    },
  };
}

export type DeployActivities = ReturnType<typeof createDeployActivities>;
