import type { Command } from 'commander';
import { mlflowConfigFromEnv } from '../../activities/mlflow/client.js';
import { createSlipwayWorkers } from '../../worker.js';
import { resolveConnection } from '../connection.js';
import { printLines } from '../output.js';
import { connectionOptions, type ConnectionFlags } from './common.js';
import { positiveInt } from './dev.js';

interface WorkerFlags extends ConnectionFlags {
  stateDir: string;
  gpus: string;
  taskQueue: string;
  gpuTaskQueue: string;
}

export function registerWorkerCommand(program: Command): void {
  connectionOptions(
    program
      .command('worker')
      .description('run a Slipway worker: pipeline workflows on the orchestration queue, jobs on the GPU queue')
      .option('--state-dir <dir>', 'job logs, checkpoints, caches and local deployments', process.env.SLIPWAY_STATE_DIR ?? '.slipway')
      .option('--gpus <n>', 'GPU jobs (training, evaluation) this worker runs at once', '1')
      .option('--task-queue <queue>', 'orchestration task queue', 'slipway')
      .option('--gpu-task-queue <queue>', 'GPU task queue', 'slipway-gpu'),
  )
    .addHelpText('after', '\nMLflow comes from MLFLOW_TRACKING_URI (+ MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD).\n\nExample:\n  $ MLFLOW_TRACKING_URI=http://127.0.0.1:5000 slipway worker --gpus 2')
    .action(async (flags: WorkerFlags) => {
      const connection = resolveConnection(flags);
      const { address, namespace } = connection;
      const gpus = positiveInt(flags.gpus, '--gpus');
      const workers = await createSlipwayWorkers({
        ...connection,
        stateDir: flags.stateDir,
        gpus,
        taskQueue: flags.taskQueue,
        gpuTaskQueue: flags.gpuTaskQueue,
        // Without MLFLOW_TRACKING_URI, the MLflow of `slipway dev`.
        mlflow: mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', ...process.env }),
        env: process.env,
      });
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => workers.shutdown());
      printLines([`slipway worker: polling ${flags.taskQueue} and ${flags.gpuTaskQueue} on ${address} (namespace ${namespace})`]);
      try {
        await workers.run();
      } finally {
        await workers.close();
      }
    });
}
