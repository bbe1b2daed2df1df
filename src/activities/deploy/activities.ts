// Deploy and production-metrics activities. Each takes one small JSON input and returns one small
// JSON result; typed failures become ApplicationFailures whose `type` the workflow branches on.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { sampleServing, windowStats, type Snapshot, type WindowStats } from '../metrics/prometheus.js';
import { LocalDeployTarget, type LocalCandidate } from './local.js';
import { DeployError, type CandidateRequest, type PromoteRequest, type PromoteResult, type RollbackRequest, type RollbackResult } from './target.js';

export type DeployCandidateInput = CandidateRequest;
export type PromoteVersionInput = PromoteRequest;

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

/** Runs `fn`, turning a DeployError into an ApplicationFailure with the same type and details. */
async function typed<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof DeployError)) throw err;
    throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: err.nonRetryable, details: [err.details] });
  }
}

/** Heartbeats while a long wait (a model server loading weights) runs, so a dead worker is noticed. */
async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

const errorText = (err: unknown) => (err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err));

/** Builds the deploy activities over a local deploy target rooted at `stateDir`. */
export function createDeployActivities(deps: { stateDir: string }) {
  const target = new LocalDeployTarget({ stateDir: deps.stateDir });
  return {
    /** Ensures the candidate's model server runs and is healthy; a retry reuses the running server. */
    async deployCandidate(input: DeployCandidateInput): Promise<LocalCandidate> {
      const started = await heartbeating(() => typed(() => target.ensureCandidate(input)));
      log.info('candidate ready', { deployment: input.deploymentName, version: input.version, endpoint: started.endpoint });
      return started;
    },

    /** Points the stable endpoint at `version`, keeping the replaced version for rollback. */
    async promoteVersion(input: PromoteVersionInput): Promise<PromoteResult> {
      const result = await typed(() => target.promote(input));
      log.info('version promoted', { deployment: input.deploymentName, version: input.version, previous: result.previousVersion });
      return result;
    },

    /** Restores the previous version on the stable endpoint; fails with NoPreviousVersion if none. */
    async rollbackDeployment(input: RollbackRequest): Promise<RollbackResult> {
      const result = await heartbeating(() => typed(() => target.rollback(input)));
      log.warn('deployment rolled back', { deployment: input.deploymentName, ...result });
      return result;
    },

    /** Stops a candidate that was not promoted (e.g. it lost at the gate); a live version is left running. */
    async stopCandidate(input: { deploymentName: string; version: string }): Promise<void> {
      const { stopped } = await typed(() => target.stop(input));
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
