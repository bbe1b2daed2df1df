import { Option, type Command } from 'commander';
import { connectClient, type ConnectOptions } from '../connection.js';
import { DEFAULT_QUEUES, type SlipwayQueues } from '../../queues.js';
import { SlipwayClient } from '../slipway-client.js';

export interface ConnectionFlags extends ConnectOptions {
  json?: boolean;
}

/** --address / --namespace on every command that talks to Temporal (envconfig fills the rest). */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or 127.0.0.1:7233)'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)'));
}

export interface QueueFlags {
  taskQueue?: string;
  servingTaskQueue?: string;
  gpuTaskQueue?: string;
}

/** --task-queue / --serving-task-queue / --gpu-task-queue: where each role's work goes. */
export function queueOptions(cmd: Command): Command {
  return cmd
    .option('--task-queue <queue>', 'task queue of the orchestration role (workflows)', DEFAULT_QUEUES.orchestration)
    .option('--serving-task-queue <queue>', 'task queue of the serving role (deployments, evaluation, smoke, monitor)', DEFAULT_QUEUES.serving)
    .option('--gpu-task-queue <queue>', 'task queue of the gpu role (training)', DEFAULT_QUEUES.gpu);
}

export function queuesFrom(flags: QueueFlags): SlipwayQueues {
  return {
    orchestration: flags.taskQueue ?? DEFAULT_QUEUES.orchestration,
    serving: flags.servingTaskQueue ?? DEFAULT_QUEUES.serving,
    gpu: flags.gpuTaskQueue ?? DEFAULT_QUEUES.gpu,
  };
}

/** Runs `fn` with a connected client and closes the connection afterwards. */
export async function withClient<T>(flags: ConnectOptions & QueueFlags, fn: (client: SlipwayClient) => Promise<T>): Promise<T> {
  const client = await connectClient(flags);
  try {
    return await fn(new SlipwayClient(client, queuesFrom(flags)));
  } finally {
    await client.connection.close();
  }
}
