import { NativeConnection, Worker } from '@temporalio/worker';
import { slipwayPlugin, type SlipwayPluginOptions } from './plugin.js';

/** The task queue of the orchestration worker (workflows and light activities). */
export const TASK_QUEUE = 'slipway';

export interface SlipwayWorkerOptions extends SlipwayPluginOptions {
  address: string;
  namespace: string;
  taskQueue?: string;
}

/** Connects to Temporal and creates the Slipway worker; the caller runs and shuts it down. */
export async function createSlipwayWorker(opts: SlipwayWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: opts.namespace,
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      plugins: [slipwayPlugin({ stateDir: opts.stateDir })],
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
