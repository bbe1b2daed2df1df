// The `trainModel` activity: runs a training job through a JobBackend, heartbeats its progress,
// resumes from the last heartbeated checkpoint on a retry, and reuses cached artifacts.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { JobLaunchError, JobUnsatisfiable, paramsToFlags, parseEventLine, storedRef, type JobBackend, type JobHandle, type JobStatus } from './backend.js';
import { digestData, digestTree, lookupTrainCache, recordTrainCache, sha256File, trainCacheKey, type DataDigest } from './cache.js';
import type { ArtifactRef, ArtifactStore } from '../artifacts/store.js';
import { unknownImplementation } from '../registry.js';
import { downsample, TrainProgress } from './progress.js';
import type { TrainHeartbeat, TrainInput, TrainResult } from './types.js';
import { expandCommand } from '../command.js';
import { withDvcPull } from './dvc.js';
import { pause } from '../../system/wakeup.js';

export type { TrainHeartbeat, TrainInput, TrainResult } from './types.js';

export interface JobActivityDeps {
  stateDir: string;
  /** The job backends this worker offers, by the name a spec's `train.backend` picks. */
  backends: Record<string, JobBackend>;
  /** Where artifacts and checkpoints go, so that other hosts can fetch them by URI. */
  artifacts: ArtifactStore;
  /** How often a job is polled for events and exit (default 250 ms); a backend that watches its jobs (`changed`) wakes the follower sooner. */
  pollIntervalMs?: number;
  /** Heartbeat at least this often, progress or not, so cancellation reaches us (default 3 s). */
  heartbeatEveryMs?: number;
}

interface Limits {
  queueMs?: number;
  runMs?: number;
}

const PROGRESS_HEARTBEAT_MS = 1000; // heartbeats on progress are throttled to about one a second
const LOG_TAIL_LINES = 40;
const MIN_ROUND_MS = 10; // bounds the rounds a chatty job causes to 100 a second

/** Builds the job activities; the worker registers them on the GPU task queue. */
export function createJobActivities(deps: JobActivityDeps) {
  const { artifacts } = deps;
  const pollMs = deps.pollIntervalMs ?? 250;
  const keepAliveMs = deps.heartbeatEveryMs ?? 3000;

  /**
   * Polls the job until it exits, heartbeating; on cancellation (or any error) kills it and rethrows.
   * Queue time and run time are bounded apart: a job waiting for the cluster does not eat its run time.
   */
  async function follow(ctx: Context, backend: JobBackend, handle: JobHandle, progress: TrainProgress, cwd: string, limits: Limits): Promise<JobStatus> {
    let cursor = 0;
    let lastBeat = 0;
    let changed = true;
    const queuedAt = Date.now();
    let runningSince: number | null = null;
    try {
      for (;;) {
        const status = await backend.poll(handle); // before events, so the last read sees all output
        if (status.state === 'pending') {
          changed = progress.setJob({ id: handle.id, state: 'pending', ...(status.reason ? { reason: status.reason } : {}) }) || changed;
          if (limits.queueMs !== undefined && Date.now() - queuedAt > limits.queueMs) {
            throw ApplicationFailure.create({
              type: 'TrainingQueueTimeout',
              message: `training job ${handle.name} waited in the cluster's queue longer than train.queue_timeout (${limits.queueMs / 1000}s)${status.reason ? `: ${status.reason}` : ''}`,
              details: [{ reason: status.reason ?? null }],
              nonRetryable: true,
            });
          }
        } else if (status.state === 'running') {
          runningSince ??= Date.now();
          changed = progress.setJob(undefined) || changed; // out of the queue: progress says the rest
          if (limits.runMs !== undefined && Date.now() - runningSince > limits.runMs) {
            throw ApplicationFailure.create({
              type: 'TrainingRunTimeout',
              message: `training job ${handle.name} ran longer than train.timeout (${limits.runMs / 1000}s)`,
              nonRetryable: false,
            });
          }
        }
        const events = await backend.events(handle, { from: cursor });
        cursor += events.length;
        for (const event of events) changed = progress.apply(event) || changed;
        // A checkpoint is stored before it is heartbeated: a retry on another host fetches it by URI.
        // (One the job stored itself comes with its ref already.)
        if (progress.checkpoint && progress.checkpointRef?.path !== progress.checkpoint) {
          const file = path.resolve(cwd, progress.checkpoint);
          const ref = await whileHeartbeating(ctx, () => progress.heartbeat(), () =>
            artifacts.put(file, `${handle.name}/checkpoints/${path.basename(file)}`, { signal: ctx.cancellationSignal }),
          );
          progress.checkpointRef = { ...ref, path: progress.checkpoint };
          changed = true;
        }
        const since = Date.now() - lastBeat;
        const exited = status.state !== 'running' && status.state !== 'pending';
        // The last progress always goes out: a retry after a failed upload resumes from its checkpoint.
        if ((changed && (since >= PROGRESS_HEARTBEAT_MS || exited)) || since >= keepAliveMs) {
          ctx.heartbeat(progress.heartbeat());
          lastBeat = Date.now();
          changed = false;
        }
        if (exited) return status;
        await nextRound(backend, handle, ctx);
      }
    } catch (err) {
      // Cancellation (workflow cancelled, heartbeat timeout, worker shutdown) or a backend error:
      // the job must not outlive the attempt that owns it.
      log.info('stopping training job', { job: handle.name, id: handle.id, reason: String(err) });
      await backend.cancel(handle).catch((e: unknown) => log.error('could not stop training job', { job: handle.name, error: String(e) }));
      throw err;
    }
  }

  /**
   * Waits for the next follow round: a backend that watches its jobs wakes us on output or exit,
   * the others are polled. Rounds are at least MIN_ROUND_MS apart, so a job that logs without
   * pause costs a bounded share of a core; a cancelled activity rejects here.
   */
  async function nextRound(backend: JobBackend, handle: JobHandle, ctx: Context): Promise<void> {
    const signal = ctx.cancellationSignal;
    const roundStart = Date.now();
    await pause(MIN_ROUND_MS, signal);
    // Never longer than the keep-alive: a job that stays silent still gets its heartbeats.
    const left = Math.min(pollMs, keepAliveMs) - (Date.now() - roundStart);
    if (left > 0) await (backend.changed ? backend.changed(handle, left, signal) : pause(left, signal));
    if (signal.aborted) await ctx.cancelled;
  }

  async function failure(backend: JobBackend, handle: JobHandle, name: string, exitCode: number | null, why: string): Promise<ApplicationFailure> {
    const logTail = (await backend.logs(handle, { tailLines: LOG_TAIL_LINES }).catch(() => ''))
      .split('\n')
      .map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l));
    const lastLine = [...logTail].reverse().find((l) => l.trim() && !l.startsWith('[slipway]') && !parseEventLine(l)) ?? '';
    return ApplicationFailure.create({
      type: 'TrainingJobFailed',
      message: `training job ${name} ${why}: ${lastLine}`,
      details: [{ exitCode, logTail: logTail.join('\n'), logPath: handle.logPath }],
      nonRetryable: false,
    });
  }

  /**
   * The job's artifact in the store and on this host: one the job stored itself (a URI event) is
   * fetched and verified against its digest; a local file is hashed and put.
   */
  async function storeArtifact(backend: JobBackend, handle: JobHandle, name: string, cwd: string, progress: TrainProgress, signal: AbortSignal) {
    const event = progress.artifact!;
    const ref = storedRef(event);
    if (ref) {
      const artifactPath = await artifacts.fetch(ref, { signal }).catch(async (err: unknown) => {
        throw await failure(backend, handle, name, 0, `reported artifact ${ref.uri}, which cannot be fetched from the artifact store (${(err as Error).message})`);
      });
      return { artifactPath, artifactDigest: ref.sha256, artifact: { ...ref, size: ref.size || (await stat(artifactPath)).size } };
    }
    const artifactPath = path.resolve(cwd, event.path);
    const artifactDigest = await sha256File(artifactPath).catch(() => null);
    if (!artifactDigest) throw await failure(backend, handle, name, 0, `reported artifact ${artifactPath}, which cannot be read`);
    const artifact = await artifacts.put(artifactPath, `${name}/${path.basename(artifactPath)}`, { signal });
    return { artifactPath, artifactDigest, artifact };
  }

  return {
    /**
     * Trains a model with the job protocol (see backend.ts). Heartbeats `TrainHeartbeat`; a retry
     * (attempt > 1 with heartbeat details) resumes from the last heartbeated checkpoint. Throws
     * `TrainingJobFailed` (retryable; non-retryable when the command cannot start) and
     * `TrainingDataMissing` (non-retryable when inputs are unreadable here; retryable when the job's host could not `dvc pull` them). On a cluster: a retry follows the job its earlier
     * attempt left there (`attach`); `TrainingResourcesUnsatisfiable` and `TrainingQueueTimeout`
     * are non-retryable, `TrainingRunTimeout` is retryable (the retry resumes from the checkpoint).
     */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      const started = Date.now();
      const ctx = Context.current();
      const backendName = input.backend ?? 'local';
      const backend = deps.backends[backendName];
      if (!backend) throw unknownImplementation('JobBackend', backendName, deps.backends);
      const cwd = path.resolve(input.cwd);
      let data: DataDigest[];
      let code: string;
      try {
        data = await digestData(cwd, input.data);
        const trackedPaths = data.flatMap((d) => (d.dvc ? [path.resolve(cwd, d.path)] : []));
        code = await digestTree(cwd, { exclude: [deps.stateDir, ...trackedPaths] });
      } catch (err) {
        throw ApplicationFailure.create({ type: 'TrainingDataMissing', message: `training inputs unreadable: ${(err as Error).message}`, nonRetryable: true });
      }
      const tracked = data.flatMap((d) => (d.dvc ? [{ abs: path.resolve(cwd, d.path), tracked: d.dvc }] : []));
      const cacheKey = trainCacheKey({ command: input.command, params: input.params, data, code, env: input.env, codeVersion: input.codeVersion });
      if (input.useCache) {
        const hit = await lookupTrainCache(deps.stateDir, cacheKey);
        if (hit) {
          log.info('training cache hit: reusing artifact', { job: input.jobName, cacheKey, artifact: hit.artifactPath });
          // Entries written before artifacts had refs are stored now; put is idempotent anyway.
          const artifact = hit.artifact ?? (await artifacts.put(hit.artifactPath, `${input.jobName}/${path.basename(hit.artifactPath)}`));
          return { ...hit, artifact, cached: true, durationMs: Date.now() - started };
        }
      }

      // A retry first looks for the launch its earlier attempt left on the cluster: a live job is
      // followed (it keeps its place in the queue and its progress), never submitted again.
      const attached = ctx.info.attempt > 1 && backend.attach ? await backend.attach(input.jobName) : null;
      const resume = attached ? null : await resumePoint(artifacts, ctx.info.attempt, ctx.info.heartbeatDetails as Partial<TrainHeartbeat> | undefined);
      const progress = new TrainProgress(resume);
      let handle: JobHandle;
      if (attached) {
        handle = attached;
        log.info('training job still on the cluster: following it', { job: input.jobName, id: handle.id, attempt: ctx.info.attempt });
      } else {
        try {
          handle = await backend.launch({
            name: input.jobName,
            // Inputs DVC tracks come from the DVC remote to the job's own host, pulled there before it starts.
            command: withDvcPull(cwd, tracked, [...expandCommand(input.command), ...paramsToFlags(input.params)]),
            cwd,
            env: { ...artifacts.jobEnv?.(input.jobName), ...input.env },
            ...(resume ? { resumeFrom: resume.checkpoint } : {}),
            ...(input.resources ? { resources: input.resources } : {}),
            ...(input.runTimeoutMs !== undefined ? { timeLimitSeconds: Math.ceil(input.runTimeoutMs / 1000) } : {}),
          });
        } catch (err) {
          if (err instanceof JobUnsatisfiable) {
            throw ApplicationFailure.create({ type: 'TrainingResourcesUnsatisfiable', message: err.message, details: [{ resources: input.resources ?? null }], nonRetryable: true });
          }
          if (!(err instanceof JobLaunchError)) throw err;
          throw ApplicationFailure.create({ type: 'TrainingJobFailed', message: err.message, details: [{ exitCode: null, errno: err.errno ?? null }], nonRetryable: err.permanent });
        }
        log.info('training job launched', { job: input.jobName, id: handle.id, attempt: ctx.info.attempt, resumeFrom: resume?.checkpoint ?? null, replaced: handle.replaced ?? null });
      }

      const status = await follow(ctx, backend, handle, progress, cwd, { queueMs: input.queueTimeoutMs, runMs: input.runTimeoutMs });
      if (status.exitCode !== 0 && progress.dataError) {
        throw ApplicationFailure.create({ type: 'TrainingDataMissing', message: `training job ${input.jobName}: ${progress.dataError}`, details: [{ exitCode: status.exitCode, logPath: handle.logPath }], nonRetryable: false });
      }
      if (status.exitCode !== 0) {
        const why = status.exitCode === null ? 'ended without an exit code' : `exited with code ${status.exitCode}`;
        throw await failure(backend, handle, input.jobName, status.exitCode, why);
      }
      if (!progress.artifact) throw await failure(backend, handle, input.jobName, 0, 'exited with code 0 without an artifact event');
      if (resume && progress.resumedStep === null) log.warn('job was given a checkpoint but did not report resuming', { job: input.jobName });
      const { artifactPath, artifactDigest, artifact } = await whileHeartbeating(ctx, () => progress.heartbeat(), () =>
        storeArtifact(backend, handle, input.jobName, cwd, progress, ctx.cancellationSignal),
      );
      const result: TrainResult = {
        artifactPath,
        artifactDigest,
        artifact,
        cacheKey,
        cached: false,
        resumedFromStep: progress.resumedStep,
        finalStep: progress.step,
        finalLoss: progress.finalLoss(),
        lossByStep: downsample(progress.losses),
        logPath: handle.logPath,
        durationMs: Date.now() - started,
      };
      await recordTrainCache(deps.stateDir, cacheKey, result);
      log.info('training job finished', { job: input.jobName, artifact: artifactPath, finalStep: result.finalStep, finalLoss: result.finalLoss });
      return result;
    },
  };
}

/** Heartbeats while a long transfer (a large checkpoint or model) runs, so the attempt is not taken for dead. */
async function whileHeartbeating<T>(ctx: Context, details: () => unknown, fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => ctx.heartbeat(details()), 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The checkpoint a retry resumes from: the last heartbeated one, from this host's disk when the file
 * is still there (same host), otherwise fetched from the artifact store by its URI (another host).
 */
async function resumePoint(
  artifacts: ArtifactStore,
  attempt: number,
  details: Partial<TrainHeartbeat> | undefined,
): Promise<{ checkpoint: string; step: number | null; ref: (ArtifactRef & { path: string }) | null } | null> {
  if (attempt <= 1 || typeof details?.checkpoint !== 'string') return null;
  const step = typeof details.checkpointStep === 'number' ? details.checkpointStep : null;
  const ref = details.checkpointRef ?? null;
  // A checkpoint the job stored itself is handed back as its URI: the job's helper fetches it where it runs.
  if (ref && ref.path === ref.uri && details.checkpoint === ref.uri) return { checkpoint: ref.uri, step, ref };
  if (existsSync(details.checkpoint)) return { checkpoint: details.checkpoint, step, ref };
  if (ref) {
    try {
      return { checkpoint: await artifacts.fetch(ref), step, ref };
    } catch (err) {
      log.warn('heartbeated checkpoint cannot be fetched; starting over', { uri: ref.uri, error: String(err) });
      return null;
    }
  }
  log.warn('heartbeated checkpoint is gone; starting over', { checkpoint: details.checkpoint });
  return null;
}
