// `slipway dev`: the embedded stack in the foreground until Ctrl-C, or until one of its servers dies.
import type { Command } from 'commander';
import { startDevStack } from '../../stack/dev-stack.js';
import type { StackPartExitedError } from '../../stack/errors.js';
import { ExitError, EXIT } from '../errors.js';
import { bold, printLines } from '../output.js';

/** The embedded stack's flags, shared by `dev` and `demo`. */
export interface StackFlags {
  stateDir: string;
  temporalPort: string;
  uiPort: string;
  mlflowPort: string;
  prometheusPort: string;
}

interface DevFlags extends StackFlags {
  mlflow: boolean;
  prometheus: boolean;
  worker: boolean;
  gpus: string;
  ray: boolean;
  rayDashboardPort?: string;
  rayGpus: string;
  slurm: boolean;
}

export function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ExitError(`${flag} ${value}: expected a port number 1-65535`, EXIT.usage);
  return n;
}

export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ExitError(`${flag} ${value}: expected a positive integer`, EXIT.usage);
  return n;
}

export function stackOptions(cmd: Command): Command {
  return cmd
    .option('--state-dir <dir>', 'where Temporal, MLflow, jobs and deployments keep state', '.slipway')
    .option('--temporal-port <port>', 'Temporal frontend port', '7233')
    .option('--ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--mlflow-port <port>', 'MLflow port', '5000')
    .option('--prometheus-port <port>', 'Prometheus port', '9090');
}

/** The stack flags checked and parsed once. */
export function stackSettings(flags: StackFlags): { stateDir: string; temporalPort: number; uiPort: number; mlflowPort: number; prometheusPort: number } {
  return {
    prometheusPort: port(flags.prometheusPort, '--prometheus-port'),
    stateDir: flags.stateDir,
    temporalPort: port(flags.temporalPort, '--temporal-port'),
    uiPort: port(flags.uiPort, '--ui-port'),
    mlflowPort: port(flags.mlflowPort, '--mlflow-port'),
  };
}

export function registerDevCommand(program: Command): void {
  stackOptions(
    program
      .command('dev')
      .description('run the embedded stack in the foreground: Temporal dev server + Web UI, MLflow, Prometheus, and a Slipway worker (Ctrl-C stops all)'),
  )
    .option('--no-mlflow', 'do not start MLflow')
    .option('--no-prometheus', 'do not start Prometheus (canary metric analysis then needs SLIPWAY_PROMETHEUS_URL)')
    .option('--no-worker', 'do not start a worker (run `slipway worker` elsewhere)')
    .option('--gpus <n>', 'GPU jobs the worker runs at once', '1')
    .option('--ray', 'also start a single-node Ray head and offer train.backend: ray (RAY_ADDRESS for the worker)')
    .option('--ray-dashboard-port <port>', "the Ray head's dashboard (Jobs API) port (default: a free one)")
    .option('--ray-gpus <n>', 'GPUs the Ray head offers to jobs', '0')
    .option('--slurm', 'also start a single-node Slurm cluster (munged, slurmctld, slurmd) and offer it as train.backend: slurm')
    .addHelpText('after', '\nExample:\n  $ slipway dev\n  $ slipway dev --slurm\n  $ slipway dev --ray\n  $ slipway dev --temporal-port 7300 --ui-port 8300 --mlflow-port 5100')
    .action(async (flags: DevFlags) => {
      const stack = await startDevStack({
        ...stackSettings(flags),
        mlflow: flags.mlflow,
        prometheus: flags.prometheus,
        worker: flags.worker,
        gpus: positiveInt(flags.gpus, '--gpus'),
        ...(flags.ray ? { ray: rayOptions(flags) } : {}),
        slurm: flags.slurm,
        log: (line) => printLines([`slipway dev: ${line}`]),
      });
      printLines([
        '',
        bold('Slipway dev stack is up'),
        `  Temporal:    ${stack.temporal.address} (namespace ${stack.temporal.namespace})`,
        `  Temporal UI: ${stack.temporal.uiUrl}`,
        stack.mlflow ? `  MLflow:      ${stack.mlflow.url}` : '  MLflow:      not started (--no-mlflow)',
        ...(stack.ray ? [`  Ray:         ${stack.ray.address} (RAY_ADDRESS; dashboard and Jobs API)`] : []),
        ...(stack.slurm ? [`  Slurm:       SLURM_CONF=${stack.slurm.conf} (partition ${stack.slurm.partition}, ${stack.slurm.cpus} CPUs, no GPUs; train.backend: slurm)`] : []),
        stack.prometheus ? `  Prometheus:  ${stack.prometheus.url}` : '  Prometheus:  not started (--no-prometheus)',
        `  Worker:      ${stack.workers ? 'running' : 'not started (--no-worker)'}`,
        '',
        'Press Ctrl-C to stop.',
      ]);
      let stopping = false;
      const shutdown = async (why: string) => {
        if (stopping) return;
        stopping = true;
        printLines([`slipway dev: ${why}, stopping...`]);
        await stack.stop();
        printLines(['slipway dev: stopped']);
      };
      await new Promise<void>((resolve, reject) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => void shutdown(`${s} received`).then(resolve, reject));
        stack.running.catch((err: unknown) => void shutdown('the worker failed').then(() => reject(err), reject));
        // A stack whose Temporal (or MLflow) died serves nobody: stop the rest and say why (exit 5).
        stack.died.catch((err: StackPartExitedError) => void shutdown(`the ${err.part} exited (exit code ${err.exitCode ?? 'none'})`).then(() => reject(err), reject));
      });
    });
}

function rayOptions(flags: DevFlags): { dashboardPort?: number; gpus: number } {
  const gpus = Number(flags.rayGpus);
  if (!Number.isInteger(gpus) || gpus < 0) throw new ExitError(`--ray-gpus ${flags.rayGpus}: expected a whole number >= 0`, EXIT.usage);
  return { gpus, ...(flags.rayDashboardPort ? { dashboardPort: port(flags.rayDashboardPort, '--ray-dashboard-port') } : {}) };
}
