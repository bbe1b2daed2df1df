// A variant's evaluation server as a cluster job (`evaluate.serve_on: cluster`): the job backend
// runs python -m slipway_job.serve on a node, which fetches the model by URI, starts the spec's
// serve command there and prints the URL it answers on. The evaluation then runs against that URL,
// and the job is stopped right after, so at most `evaluate.max_parallel` servers hold cluster slots.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import path from 'node:path';
import type { ArtifactRef, ArtifactStore } from '../artifacts/store.js';
import { expandCommand } from '../command.js';
import { unknownImplementation } from '../registry.js';
import { findTool } from '../../system/tools.js';
import { pause } from '../../system/wakeup.js';
import { JobLaunchError, JobUnsatisfiable, type JobBackend, type JobHandle, type JobResources } from './backend.js';
import type { ClusterServerRecords } from './cluster-server-records.js';

export interface ServeOnClusterInput {
  /** The variant's job name; the server's job is `<jobName>-serve`. */
  jobName: string;
  backend: string;
  artifact: ArtifactRef;
  serve: { command: string[]; cwd: string; healthPath: string; startupTimeoutMs: number };
  resources?: JobResources;
  /** How long the job may wait in the cluster's queue (train.queue_timeout). */
  queueTimeoutMs?: number;
}

export interface ClusterServer {
  endpoint: string;
  job: JobHandle;
}

const POLL_MS = 250;
const HEARTBEAT_MS = 3_000;
const LOG_TAIL_LINES = 30;

export function createClusterServerActivities(deps: { backends: Record<string, JobBackend>; artifacts: ArtifactStore; records: ClusterServerRecords }) {
  function backendOf(name: string): JobBackend {
    const backend = deps.backends[name];
    if (!backend) throw unknownImplementation('JobBackend', name, deps.backends);
    return backend;
  }

  async function serverFailed(backend: JobBackend, job: JobHandle, why: string): Promise<ApplicationFailure> {
    const logTail = await backend.logs(job, { tailLines: LOG_TAIL_LINES }).catch(() => '');
    return ApplicationFailure.create({
      type: 'ModelServerFailedToStart',
      message: `evaluation server job ${job.name} ${why}. Last lines of its log:\n${logTail}`,
      details: [{ job: job.name, id: job.id, logPath: job.logPath }],
      nonRetryable: true,
    });
  }

  return {
    /**
     * Starts the variant's evaluation server as a cluster job and returns the URL it answers on once
     * healthy. A retried attempt follows the job its earlier attempt left (`attach`) instead of
     * submitting a second one. Throws `ModelServerFailedToStart` (non-retryable) when the job ends
     * or its server never becomes healthy, and stops the job on any failure or cancellation.
     */
    async serveOnCluster(input: ServeOnClusterInput): Promise<ClusterServer> {
      const ctx = Context.current();
      const backend = backendOf(input.backend);
      const name = `${input.jobName}-serve`;
      let job = ctx.info.attempt > 1 && backend.attach ? await backend.attach(name) : null;
      if (!job) {
        const command = [findTool('python'), '-m', 'slipway_job.serve', '--health-path', input.serve.healthPath, '--startup-timeout', String(input.serve.startupTimeoutMs / 1000), '--', ...expandCommand(input.serve.command)];
        const env: Record<string, string> = { ...deps.artifacts.jobEnv?.(name), SLIPWAY_MODEL_URI: input.artifact.uri, SLIPWAY_MODEL_SHA256: input.artifact.sha256 };
        // Where the node's server is reached from here when its own address will not do (one host, tests).
        if (process.env.SLIPWAY_SERVE_HOST) env.SLIPWAY_SERVE_HOST = process.env.SLIPWAY_SERVE_HOST;
        try {
          job = await backend.launch({ name, command, cwd: path.resolve(input.serve.cwd), env, ...(input.resources ? { resources: input.resources } : {}) });
        } catch (err) {
          if (!(err instanceof JobLaunchError)) throw err;
          throw ApplicationFailure.create({ type: err instanceof JobUnsatisfiable ? 'TrainingResourcesUnsatisfiable' : 'ModelServerFailedToStart', message: `evaluation server job ${name}: ${err.message}`, nonRetryable: err.permanent });
        }
        log.info('evaluation server job launched', { job: name, id: job.id });
      }
      // Before anything can fail: a release ended from outside leaves this record for the reconciler.
      const owner = ctx.info.workflowExecution?.workflowId;
      if (owner) deps.records.add({ owner, backend: input.backend, job });
      const queuedAt = Date.now();
      let runningSince: number | null = null;
      let cursor = 0;
      let lastBeat = 0;
      try {
        for (;;) {
          const status = await backend.poll(job);
          const events = await backend.events(job, { from: cursor });
          cursor += events.length;
          const url = events.map((e) => (e.type === 'serving' ? (e as { url?: unknown }).url : undefined)).find((u) => typeof u === 'string');
          if (url) return { endpoint: url as string, job };
          if (status.state === 'pending' && input.queueTimeoutMs !== undefined && Date.now() - queuedAt > input.queueTimeoutMs) {
            throw await serverFailed(backend, job, `waited in the cluster's queue longer than train.queue_timeout (${input.queueTimeoutMs / 1000}s)${status.reason ? `: ${status.reason}` : ''}`);
          }
          if (status.state === 'running') {
            runningSince ??= Date.now();
            // The helper gives up at the startup timeout itself; this bounds a node that never answers at all.
            if (Date.now() - runningSince > input.serve.startupTimeoutMs + 60_000) throw await serverFailed(backend, job, `did not report a healthy server within serve.startup_timeout`);
          }
          if (status.state !== 'pending' && status.state !== 'running') throw await serverFailed(backend, job, `ended (${status.state}, exit code ${status.exitCode ?? 'none'}) before its server was healthy`);
          if (Date.now() - lastBeat >= HEARTBEAT_MS) {
            ctx.heartbeat({ job: job.id, state: status.state });
            lastBeat = Date.now();
          }
          await (backend.changed ? backend.changed(job, POLL_MS, ctx.cancellationSignal) : pause(POLL_MS, ctx.cancellationSignal));
          if (ctx.cancellationSignal.aborted) await ctx.cancelled;
        }
      } catch (err) {
        await backend.cancel(job).then(
          () => deps.records.remove(job.name),
          (e: unknown) => log.error('could not stop evaluation server job', { job: name, error: String(e) }),
        );
        throw err;
      }
    },

    /** Stops an evaluation server's cluster job (done with it, or its release ended); a job already gone is fine. */
    async stopClusterServer(input: { backend: string; job: JobHandle }): Promise<void> {
      await backendOf(input.backend).cancel(input.job);
      deps.records.remove(input.job.name);
    },
  };
}
