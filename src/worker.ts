import proto from '@temporalio/proto';
import { NativeConnection, Worker, type NativeConnectionOptions } from '@temporalio/worker';
import { TemporalUnreachableError } from './errors.js';
import { createActivities } from './activities/index.js';
import { slipwayPlugin, type SlipwayPluginOptions } from './plugin.js';
import { DEFAULT_GPU_TASK_QUEUE } from './workflows/activities.js';
import { STAGE_KEY } from './workflows/context.js';

/** The orchestration task queue: workflows and light activities (HTTP, MLflow, deploys). */
export const TASK_QUEUE = 'slipway';
export { DEFAULT_GPU_TASK_QUEUE };

export interface SlipwayWorkerOptions extends SlipwayPluginOptions {
  address: string;
  namespace: string;
  /** TLS, API key and metadata for clusters that need them (from the envconfig profile). */
  tls?: NativeConnectionOptions['tls'];
  apiKey?: string;
  metadata?: NativeConnectionOptions['metadata'];
  taskQueue?: string;
  gpuTaskQueue?: string;
  /** How many GPU jobs (training, evaluation) this machine runs at once. */
  gpus?: number;
}

export interface SlipwayWorkers {
  workers: Worker[];
  /** Runs both workers until `shutdown()` (or a fatal error). */
  run(): Promise<void>;
  shutdown(): void;
  close(): Promise<void>;
}

/**
 * Connects to Temporal and creates the two workers of a Slipway host: the orchestration queue
 * and the GPU queue (its activity slots are the number of GPUs).
 */
export async function createSlipwayWorkers(opts: SlipwayWorkerOptions): Promise<SlipwayWorkers> {
  const { address, tls, apiKey, metadata } = opts;
  const connection = await NativeConnection.connect({ address, tls, apiKey, metadata }).catch((err: unknown) => {
    throw new TemporalUnreachableError(address, err);
  });
  try {
    await ensureStageSearchAttribute(connection, opts.namespace);
    const main = await Worker.create({ connection, namespace: opts.namespace, taskQueue: opts.taskQueue ?? TASK_QUEUE, plugins: [slipwayPlugin(opts)] });
    // The GPU queue hosts activities only, so it needs no workflow bundle.
    const gpu = await Worker.create({
      connection,
      namespace: opts.namespace,
      taskQueue: opts.gpuTaskQueue ?? DEFAULT_GPU_TASK_QUEUE,
      activities: createActivities(opts),
      maxConcurrentActivityTaskExecutions: opts.gpus ?? 1,
      // Heartbeats carry training progress and the checkpoint to resume from: send them to the
      // server every few seconds rather than every 0.8 × heartbeat timeout.
      maxHeartbeatThrottleInterval: '3s',
    });
    const workers = [main, gpu];
    return {
      workers,
      run: async () => {
        await Promise.all(workers.map((w) => w.run()));
      },
      shutdown: () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown()),
      close: () => connection.close(),
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

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
