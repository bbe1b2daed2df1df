import { DefaultLogger, Runtime } from '@temporalio/worker';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { mlflowConfigFromEnv } from '../activities/mlflow/client.js';
import { createSlipwayWorkers, type SlipwayWorkers } from '../worker.js';
import { startMlflowServer, type RunningMlflow } from './mlflow-server.js';
import { startTemporalDevServer, type RunningTemporal } from './temporal-server.js';

export interface DevStackOptions {
  stateDir: string;
  temporalPort: number;
  uiPort: number;
  mlflowPort: number;
  mlflow: boolean;
  worker: boolean;
  gpus: number;
  log: (line: string) => void;
  /** Send the worker's own logs to <stateDir>/logs/worker.log instead of the console (the demo). */
  workerLogToFile?: boolean;
}

export interface DevStack {
  temporal: RunningTemporal;
  mlflow?: RunningMlflow;
  workers?: SlipwayWorkers;
  /** Resolves when the worker stops (or never, without one). */
  running: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The embedded default stack: Temporal dev server with its UI (state in <stateDir>/temporal.db,
 * so pipelines survive a restart), MLflow (state in <stateDir>/mlflow/), and a Slipway worker.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const stateDir = path.resolve(opts.stateDir);
  const logs = path.join(stateDir, 'logs');
  opts.log(`starting Temporal dev server (state: ${path.join(stateDir, 'temporal.db')}, log: ${path.join(logs, 'temporal.log')})`);
  const temporal = await startTemporalDevServer({
    port: opts.temporalPort,
    uiPort: opts.uiPort,
    dbFile: path.join(stateDir, 'temporal.db'),
    logFile: path.join(logs, 'temporal.log'),
  });
  const started: Array<{ stop(): Promise<void> }> = [temporal];
  try {
    let mlflow: RunningMlflow | undefined;
    if (opts.mlflow) {
      opts.log(`starting MLflow (state: ${path.join(stateDir, 'mlflow')}, log: ${path.join(logs, 'mlflow.log')})`);
      mlflow = await startMlflowServer({ port: opts.mlflowPort, stateDir: path.join(stateDir, 'mlflow'), logFile: path.join(logs, 'mlflow.log') });
      started.push(mlflow);
    }
    let workers: SlipwayWorkers | undefined;
    let running: Promise<void> = new Promise(() => undefined);
    if (opts.worker) {
      opts.log('starting the Slipway worker (task queues: slipway, slipway-gpu)');
      if (opts.workerLogToFile) logWorkerToFile(path.join(logs, 'worker.log'));
      const env = { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', ...process.env, ...(mlflow ? { MLFLOW_TRACKING_URI: mlflow.url } : {}) };
      workers = await createSlipwayWorkers({
        address: temporal.address,
        namespace: temporal.namespace,
        stateDir,
        mlflow: mlflowConfigFromEnv(env),
        env,
        gpus: opts.gpus,
      });
      running = workers.run();
    }
    const stop = async () => {
      if (workers) {
        workers.shutdown();
        await running.catch(() => undefined);
        await workers.close();
      }
      await Promise.all(started.map((s) => s.stop()));
    };
    return { temporal, mlflow, workers, running, stop };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
}

/** One JSON line per SDK log entry; must run before the first worker creates the Runtime. */
function logWorkerToFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      appendFileSync(file, `${JSON.stringify({ at, level: entry.level, message: entry.message, ...entry.meta })}\n`);
    }),
  });
}
