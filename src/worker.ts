// The Slipway worker: one Temporal worker per role, each on its role's task queue, over one
// connection and one runtime (so activities and implementations are created once per process).
import proto from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import { slipwayDataConverter } from './codec/aes-gcm-codec.js';
import { NativeConnection, Runtime, Worker, type NativeConnectionOptions, type WorkerOptions } from '@temporalio/worker';
import { repeatEvery, startReconciler, type ReleaseRunning } from './activities/deploy/reconciler.js';
import { clusterServerRecords, stopOrphanedClusterServers } from './activities/jobs/cluster-server-records.js';
import { TemporalUnreachableError } from './errors.js';
import { slipwayPlugin } from './plugin.js';
import { DEFAULT_QUEUES, ROLES, type Role, type SlipwayQueues } from './queues.js';
import { resolveRuntime, type RuntimeOptions } from './runtime.js';
import { STAGE_KEY } from './workflows/context.js';

/** The orchestration task queue (workflows). */
export const TASK_QUEUE = DEFAULT_QUEUES.orchestration;

export interface SlipwayWorkerOptions extends RuntimeOptions {
  /** Default: AES-256-GCM encryption when `env` has SLIPWAY_CODEC_KEYS_FILE or SLIPWAY_CODEC_KEYS, else none. */
  dataConverter?: DataConverter;
  address: string;
  namespace: string;
  /** TLS, API key and metadata for clusters that need them (from the envconfig profile). */
  tls?: NativeConnectionOptions['tls'];
  apiKey?: string;
  metadata?: NativeConnectionOptions['metadata'];
  /** The roles this process serves (default: all three, so one machine needs one worker). */
  roles?: Role[];
  /** Task queue per role (defaults: slipway, slipway-serving, slipway-gpu). */
  queues?: Partial<SlipwayQueues>;
  /** How many GPU jobs this machine runs at once (the gpu role's activity slots). */
  gpus?: number;
  /**
   * Worker Versioning: this process is build `buildId` of the worker deployment `name`. Releases
   * are pinned to the build they started on, so new workflow code never replays an old release's
   * history; see the README's upgrade procedure. Unset: unversioned (every worker takes any task).
   */
  deployment?: WorkerDeployment;
  /**
   * Serving role: how often the reconciler repairs this host's deployments (a dead router, a
   * half-done switch, candidates of releases that no longer run); default 5 s, 0 turns it off.
   */
  reconcileIntervalMs?: number;
  /** How many workflows stay in memory between their tasks (default {@link DEFAULT_MAX_CACHED_WORKFLOWS}); see workflowCacheOptions. */
  maxCachedWorkflows?: number;
}

/**
 * Workflows kept in memory between tasks. A release waiting days for approval needs none: evicted,
 * it costs nothing here and replays its history when the decision comes (a few ms). Temporal's own
 * default sizes the cache by heap (about 900 on a 4 GB heap), where each workflow takes ~1.5 MB.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 100;

/**
 * The orchestration worker's workflow cache: least recently used workflows are evicted first, so
 * the ones waiting for a person leave room for the ones at work. An evicted workflow's next task
 * replays its history on this worker (or any other), so nothing is lost, only a replay paid.
 */
export function workflowCacheOptions(maxCachedWorkflows = DEFAULT_MAX_CACHED_WORKFLOWS): Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions'> {
  if (!Number.isInteger(maxCachedWorkflows) || maxCachedWorkflows < 2) {
    throw new RangeError(`maxCachedWorkflows ${maxCachedWorkflows}: expected a whole number of at least 2 (workflows kept in memory between tasks)`);
  }
  // The SDK allows no more concurrent workflow tasks than cached workflows (its default is 40).
  return { maxCachedWorkflows, maxConcurrentWorkflowTaskExecutions: Math.min(maxCachedWorkflows, 40) };
}

export interface WorkerDeployment {
  name: string;
  buildId: string;
}

/** Worker options that put a worker into a deployment version, with releases pinned to it. */
export function deploymentOptions(deployment: WorkerDeployment | undefined): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (!deployment) return {};
  return {
    workerDeploymentOptions: {
      version: { deploymentName: deployment.name, buildId: deployment.buildId },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'PINNED',
    },
  };
}

export interface SlipwayWorkers {
  workers: Worker[];
  roles: Role[];
  queues: SlipwayQueues;
  /** Runs every worker until `shutdown()` (or a fatal error). */
  run(): Promise<void>;
  shutdown(): void;
  close(): Promise<void>;
}

/**
 * Connects to Temporal and creates one worker per role: orchestration (workflows, MLflow,
 * notifications, checks), serving (deployments, evaluation, smoke, monitor samples) and gpu
 * (training; its activity slots are the number of GPUs, so serving work never waits behind it).
 */
export async function createSlipwayWorkers(opts: SlipwayWorkerOptions): Promise<SlipwayWorkers> {
  const { address, tls, apiKey, metadata } = opts;
  const roles = opts.roles?.length ? opts.roles : [...ROLES];
  const queues: SlipwayQueues = { ...DEFAULT_QUEUES, ...opts.queues };
  const runtime = resolveRuntime(opts);
  // Encrypted payloads (SLIPWAY_CODEC_KEYS_FILE): a bad key file stops the worker before it connects.
  const dataConverter = opts.dataConverter ?? slipwayDataConverter(opts.env);
  const connection = await NativeConnection.connect({ address, tls, apiKey, metadata }).catch((err: unknown) => {
    throw new TemporalUnreachableError(address, err);
  });
  try {
    if (roles.includes('orchestration')) await ensureStageSearchAttribute(connection, opts.namespace);
    const workers: Worker[] = [];
    for (const role of roles) {
      workers.push(
        await Worker.create({
          connection,
          namespace: opts.namespace,
          taskQueue: queues[role],
          plugins: [slipwayPlugin({ ...runtime, role })],
          ...deploymentOptions(opts.deployment),
          ...(dataConverter ? { dataConverter } : {}),
          ...(role === 'orchestration' ? workflowCacheOptions(opts.maxCachedWorkflows) : {}),
          ...(role === 'gpu'
            ? {
                maxConcurrentActivityTaskExecutions: opts.gpus ?? 1,
                // Heartbeats carry training progress and the checkpoint to resume from: send them to
                // the server every few seconds rather than every 0.8 × heartbeat timeout.
                maxHeartbeatThrottleInterval: '3s',
              }
            : {}),
        }),
      );
    }
    const shutdown = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    const reconcileMs = opts.reconcileIntervalMs ?? 5_000;
    return {
      workers,
      roles,
      queues,
      run: async () => {
        const logger = Runtime.instance().logger;
        const isRunning = releaseRunning(connection, opts.namespace);
        const reconciler =
          roles.includes('serving') && reconcileMs > 0
            ? startReconciler({
                targets: runtime.deployTargets,
                isRunning,
                intervalMs: reconcileMs,
                onRepair: (repair) => logger.warn('deployment reconciled', { ...repair }),
                onError: (err) => logger.warn('deployment reconcile failed; trying again next pass', { error: String(err) }),
              })
            : undefined;
        // The gpu role launches evaluation servers as cluster jobs: those of releases ended from outside are stopped.
        const clusterReaper =
          roles.includes('gpu') && reconcileMs > 0
            ? repeatEvery(
                reconcileMs,
                async () => {
                  const stopped = await stopOrphanedClusterServers(clusterServerRecords(runtime.stateDir), runtime.jobBackends, isRunning, (err) => logger.warn('could not stop an evaluation server job; trying again next pass', { error: String(err) }));
                  for (const r of stopped) logger.warn('evaluation server job of a release that no longer runs stopped', { owner: r.owner, backend: r.backend, job: r.job.name, id: r.job.id });
                },
                (err) => logger.warn('cluster server reconcile failed; trying again next pass', { error: String(err) }),
              )
            : undefined;
        // One role failing stops the others, and its error (not a later one) is what the caller sees.
        const results = await Promise.allSettled(
          workers.map((w) =>
            w.run().catch((err: unknown) => {
              shutdown();
              throw err;
            }),
          ),
        );
        await reconciler?.stop();
        await clusterReaper?.stop();
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
      shutdown,
      close: () => connection.close(),
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/** Asks Temporal whether a release still runs: NOT_FOUND means gone; any other failure means "cannot tell now". */
function releaseRunning(connection: NativeConnection, namespace: string): ReleaseRunning {
  return async (workflowId) => {
    try {
      const { workflowExecutionInfo } = await connection.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId } });
      return workflowExecutionInfo?.status === proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
    } catch (err) {
      return (err as { code?: number }).code === GRPC_NOT_FOUND ? false : undefined;
    }
  };
}
const GRPC_NOT_FOUND = 5;

/**
 * Registers the SlipwayStage search attribute when the cluster lacks it (the dev server gets it
 * at start; a production cluster at the first worker start). Without it, stage upserts fail.
 */
async function ensureStageSearchAttribute(connection: NativeConnection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  if (existing.customAttributes?.[STAGE_KEY.name] !== undefined) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: { [STAGE_KEY.name]: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
  });
}
