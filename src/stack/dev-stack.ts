// The embedded stack of `slipway dev` and `slipway demo`: the real servers and a worker, in one process.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mlflowConfigFromEnv, type MlflowConfig } from '../activities/mlflow/client.js';
import { createSlipwayWorkers, type SlipwayWorkers } from '../worker.js';
import { startMlflowServer, type RunningMlflow } from './mlflow-server.js';
import { startRayHead, type RunningRayHead } from './ray-head.js';
import { startSlurmCluster, type RunningSlurm } from './slurm.js';
import { startPrometheusServer, type RunningPrometheus } from './prometheus-server.js';
import { StackConfigError, StackPartExitedError } from './errors.js';
import type { ManagedProcess } from './process.js';
import { startTemporalDevServer, type RunningTemporal } from './temporal-server.js';

/** How long stop() waits for the worker to finish its tasks; with its server gone it may never. */
const WORKER_STOP_MS = 15_000;

export interface DevStackOptions {
  stateDir: string;
  temporalPort: number;
  uiPort: number;
  mlflowPort: number;
  mlflow: boolean;
  /** Prometheus scraping Traefik and the model servers (canary analysis); off with --no-prometheus. */
  prometheus?: boolean;
  prometheusPort?: number;
  worker: boolean;
  gpus: number;
  /** Also start a single-node Slurm cluster (state in <stateDir>/slurm/) and offer it as the `slurm` backend. */
  slurm?: boolean;
  log: (line: string) => void;
  /** Start a single-node Ray head too (its dashboard on this port, or a free one) and offer `train.backend: ray`. */
  ray?: { dashboardPort?: number; cpus?: number; gpus?: number };
  /** Send the worker's own logs to <stateDir>/logs/worker.log instead of the console (the demo). */
  workerLogToFile?: boolean;
}

export interface DevStack {
  temporal: RunningTemporal;
  mlflow?: RunningMlflow;
  ray?: RunningRayHead;
  slurm?: RunningSlurm;
  prometheus?: RunningPrometheus;
  workers?: SlipwayWorkers;
  /** Resolves when the worker stops (or never, without one). */
  running: Promise<void>;
  /** Rejects with a StackPartExitedError when a server exits before stop(); never resolves. */
  died: Promise<never>;
  stop(): Promise<void>;
}

/**
 * The embedded default stack: Temporal dev server with its UI (state in <stateDir>/temporal.db,
 * so pipelines survive a restart), MLflow (state in <stateDir>/mlflow/), Prometheus (state in
 * <stateDir>/prometheus/, scraping what the worker deploys), and a Slipway worker.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const stateDir = path.resolve(opts.stateDir);
  const logs = path.join(stateDir, 'logs');
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  // Checked before anything starts: a bad setting is the user's to fix, not a crash after a minute.
  const env = opts.worker ? workerEnv(opts, uiUrl) : undefined;
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
    let ray: RunningRayHead | undefined;
    if (opts.ray) {
      opts.log(`starting a Ray head (log: ${path.join(logs, 'ray.log')})`);
      ray = await startRayHead({ ...opts.ray, logFile: path.join(logs, 'ray.log') });
      started.push(ray);
      if (env) env.env.RAY_ADDRESS = ray.address;
    }
    let slurm: RunningSlurm | undefined;
    if (opts.slurm) {
      opts.log(`starting a single-node Slurm cluster (munged, slurmctld, slurmd; state and logs: ${path.join(stateDir, 'slurm')})`);
      slurm = await startSlurmCluster({ stateDir: path.join(stateDir, 'slurm') });
      started.push(slurm);
    }
    let prometheus: RunningPrometheus | undefined;
    if (opts.prometheus !== false) {
      opts.log(`starting Prometheus (state: ${path.join(stateDir, 'prometheus')}, log: ${path.join(logs, 'prometheus.log')})`);
      prometheus = await startPrometheusServer({
        port: opts.prometheusPort ?? 9090,
        stateDir: path.join(stateDir, 'prometheus'),
        // The worker's local deploy target lists what it runs here (its default, under the same state dir).
        targetsDir: path.join(stateDir, 'prometheus', 'targets'),
        logFile: path.join(logs, 'prometheus.log'),
        scrapeInterval: '5s',
      });
      started.push(prometheus);
      if (env) env.env.SLIPWAY_PROMETHEUS_URL ??= prometheus.url;
    }
    let workers: SlipwayWorkers | undefined;
    let running: Promise<void> = new Promise(() => undefined);
    if (env) {
      opts.log('starting the Slipway worker (task queues: slipway, slipway-serving, slipway-gpu)');
      if (opts.workerLogToFile) logWorkerToFile(path.join(logs, 'worker.log'));
      workers = await createSlipwayWorkers({
        address: temporal.address,
        namespace: temporal.namespace,
        stateDir,
        mlflow: env.mlflow,
        env: env.env,
        gpus: opts.gpus,
        ...(slurm ? { slurmConf: slurm.conf } : {}),
      });
      running = workers.run();
    }
    let stopping = false;
    const died = new Promise<never>((_, reject) => {
      const watch = (part: string, proc: ManagedProcess) =>
        void proc.exit.then((code) => {
          if (!stopping) reject(new StackPartExitedError(part, code, proc.logFile));
        });
      watch('Temporal server', temporal.process);
      if (mlflow) watch('MLflow server', mlflow.process);
      if (ray) watch('Ray head', ray.process);
      for (const p of slurm?.processes ?? []) watch(`Slurm ${p.name}`, p);
      if (prometheus) watch('Prometheus', prometheus.process);
    });
    died.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
    const stop = async () => {
      stopping = true;
      if (workers) {
        workers.shutdown();
        await Promise.race([running.catch(() => undefined), sleep(WORKER_STOP_MS)]);
        await workers.close().catch(() => undefined);
      }
      await Promise.all(started.map((s) => s.stop()));
    };
    return { temporal, mlflow, ray, slurm, prometheus, workers, running, died, stop };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
}

/**
 * The worker's environment: MLflow at the stack's own server (or MLFLOW_TRACKING_URI with
 * --no-mlflow), and notification links to the stack's UI unless SLIPWAY_UI_URL says otherwise.
 */
function workerEnv(opts: DevStackOptions, uiUrl: string): { env: NodeJS.ProcessEnv; mlflow: MlflowConfig } {
  const env: NodeJS.ProcessEnv = { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', SLIPWAY_UI_URL: uiUrl, ...process.env };
  if (opts.mlflow) env.MLFLOW_TRACKING_URI = `http://127.0.0.1:${opts.mlflowPort}`;
  if (!env.SLIPWAY_UI_URL) env.SLIPWAY_UI_URL = uiUrl;
  try {
    return { env, mlflow: mlflowConfigFromEnv(env) };
  } catch (err) {
    throw new StackConfigError(`${(err as Error).message}. Fix the environment of \`slipway dev\` (or start it with --no-worker).`);
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
