import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mlflowConfigFromEnv } from '../../activities/mlflow/client.js';
import { parseRoles, type Role } from '../../queues.js';
import { ARTIFACT_STORE_KINDS, rayBackends, type ArtifactStoreKind } from '../../runtime.js';
import { createSlipwayWorkers, DEFAULT_MAX_CACHED_WORKFLOWS } from '../../worker.js';
import { resolveConnection } from '../connection.js';
import { EXIT, ExitError } from '../errors.js';
import { printLines } from '../output.js';
import { connectionOptions, queueOptions, queuesFrom, type ConnectionFlags, type QueueFlags } from './common.js';
import { positiveInt } from './dev.js';

interface WorkerFlags extends ConnectionFlags, QueueFlags {
  roles: string;
  stateDir: string;
  gpus: string;
  artifacts: string;
  artifactsDir?: string;
  deploymentName?: string;
  buildId?: string;
  rayAddress?: string;
  slurmConf?: string;
  reconcileInterval: string;
  maxCachedWorkflows: string;
}

export function registerWorkerCommand(program: Command): void {
  connectionOptions(
    queueOptions(
      program
        .command('worker')
        .description('run a Slipway worker for one or more roles: orchestration (workflows, MLflow, notifications), serving (deployments, evaluation, smoke, monitor), gpu (training)')
        .option('--roles <list>', 'comma-separated roles this host serves', 'orchestration,serving,gpu')
        .option('--state-dir <dir>', "this worker's own directory: job logs, checkpoints, caches, deployments", process.env.SLIPWAY_STATE_DIR ?? '.slipway')
        .option('--gpus <n>', 'training jobs this worker runs at once (gpu role)', '1')
        .option('--max-cached-workflows <n>', 'workflows kept in memory between tasks (orchestration role); releases waiting for approval beyond it are evicted and replay when decided', process.env.SLIPWAY_MAX_CACHED_WORKFLOWS ?? String(DEFAULT_MAX_CACHED_WORKFLOWS))
        .option('--artifacts-dir <dir>', "the local store's directory: one every host mounts (default <state-dir>/artifacts)", process.env.SLIPWAY_ARTIFACTS_DIR)
        .option('--ray-address <url>', "a Ray cluster's dashboard (http://host:8265): offers train.backend ray", process.env.RAY_ADDRESS)
        .option('--slurm-conf <file>', "offer the `slurm` job backend on this Slurm cluster's slurm.conf (default: SLURM_CONF)", process.env.SLURM_CONF)
        .option('--artifacts <store>', `where models and checkpoints travel between hosts: ${ARTIFACT_STORE_KINDS.join(' or ')} (use mlflow when hosts share no disk)`, process.env.SLIPWAY_ARTIFACTS ?? 'local')
        .option('--deployment-name <name>', 'Worker Versioning: the worker deployment this process belongs to (with --build-id)', process.env.SLIPWAY_DEPLOYMENT_NAME)
        .option('--reconcile-interval <seconds>', 'serving role: how often to repair this host\'s deployments (a dead router, a half-done switch, candidates of releases that no longer run, a dead canary\'s traffic); gpu role: how often to stop the evaluation server jobs of releases that no longer run; 0 turns both off', '5')
        .option('--build-id <id>', 'Worker Versioning: this code\'s build id; releases stay pinned to the build they started on', process.env.SLIPWAY_BUILD_ID),
    ),
  )
    .addHelpText(
      'after',
      [
        '',
        'MLflow comes from MLFLOW_TRACKING_URI (+ MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD).',
        '',
        'Examples:',
        '  $ slipway worker                                   # one host: all three roles',
        '  $ slipway worker --roles orchestration --artifacts mlflow',
        '  $ slipway worker --roles serving --state-dir /var/lib/slipway --artifacts mlflow',
        '  $ slipway worker --roles gpu --gpus 8 --artifacts mlflow',
        '  $ RAY_ADDRESS=http://ray-head:8265 slipway worker --roles gpu --gpus 16 --artifacts mlflow',
        '  $ slipway worker --roles gpu --gpus 64 --slurm-conf /etc/slurm/slurm.conf   # train.backend: slurm',
        '  $ slipway worker --deployment-name slipway --build-id 2026-11-26.1   # versioned: see the README, "Upgrading workers"',
      ].join('\n'),
    )
    .action(async (flags: WorkerFlags) => {
      let roles: Role[];
      try {
        roles = parseRoles(flags.roles);
      } catch (err) {
        throw new ExitError(`--roles: ${(err as Error).message}`, EXIT.usage);
      }
      if (!ARTIFACT_STORE_KINDS.includes(flags.artifacts as ArtifactStoreKind)) {
        throw new ExitError(`--artifacts: expected ${ARTIFACT_STORE_KINDS.join(' or ')}, got ${JSON.stringify(flags.artifacts)}`, EXIT.usage);
      }
      if (flags.slurmConf && !existsSync(flags.slurmConf)) throw new ExitError(`--slurm-conf ${flags.slurmConf}: no such file (the Slurm cluster's slurm.conf)`, EXIT.usage);
      let mlflow;
      try {
        // Without MLFLOW_TRACKING_URI, the MLflow of `slipway dev`.
        mlflow = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', ...process.env });
      } catch (err) {
        throw new ExitError(`${(err as Error).message}. Fix the worker's environment.`, EXIT.usage);
      }
      if (Boolean(flags.deploymentName) !== Boolean(flags.buildId)) {
        throw new ExitError('--deployment-name and --build-id go together (Worker Versioning needs both, or neither)', EXIT.usage);
      }
      const deployment = flags.deploymentName && flags.buildId ? { name: flags.deploymentName, buildId: flags.buildId } : undefined;
      const env = { ...process.env, ...(flags.rayAddress ? { RAY_ADDRESS: flags.rayAddress } : {}) };
      try {
        rayBackends(flags.stateDir, env);
      } catch (err) {
        throw new ExitError(`--ray-address: ${(err as Error).message}`, EXIT.usage);
      }
      const reconcileSeconds = Number(flags.reconcileInterval);
      if (!Number.isFinite(reconcileSeconds) || reconcileSeconds < 0) {
        throw new ExitError(`--reconcile-interval ${flags.reconcileInterval}: expected a number of seconds, 0 or more (0 turns the reconciler off)`, EXIT.usage);
      }
      const connection = resolveConnection(flags);
      const { address, namespace } = connection;
      const queues = queuesFrom(flags);
      const workers = await createSlipwayWorkers({
        ...connection,
        roles,
        queues,
        stateDir: flags.stateDir,
        gpus: positiveInt(flags.gpus, '--gpus'),
        maxCachedWorkflows: cacheSize(flags.maxCachedWorkflows),
        artifacts: flags.artifacts as ArtifactStoreKind,
        artifactsDir: flags.artifactsDir,
        slurmConf: flags.slurmConf,
        mlflow,
        env,
        deployment,
        reconcileIntervalMs: reconcileSeconds * 1000,
      });
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => workers.shutdown());
      const polling = workers.roles.map((r) => `${r} on ${workers.queues[r]}`).join(', ');
      const slurm = flags.slurmConf ? `; slurm ${flags.slurmConf}` : '';
      const version = deployment ? `; deployment ${deployment.name}, build ${deployment.buildId}` : '';
      printLines([`slipway worker polling: ${polling} at ${address} (namespace ${namespace}; state ${flags.stateDir}; artifacts ${flags.artifacts}${slurm}${version})`]);
      try {
        await workers.run();
      } finally {
        await workers.close();
      }
    });
}

/** --max-cached-workflows: at least 2 (the SDK's floor for a cache that is on). */
function cacheSize(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 2) throw new ExitError(`--max-cached-workflows: expected a whole number of at least 2, got ${JSON.stringify(text)}`, EXIT.usage);
  return n;
}
