// Slipway as a Temporal plugin: any worker can host one role of it, with the job backends, deploy
// targets and artifact store its host provides.
import { SimplePlugin } from '@temporalio/plugin';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRoleActivities } from './activities/index.js';
import { resolveRuntime, type RuntimeOptions } from './runtime.js';
import type { Role } from './queues.js';
import { workflowsPath as slipwayWorkflowsPath } from './worker-paths.js';

export interface SlipwayPluginOptions extends RuntimeOptions {
  /** What this worker does (default `orchestration`: the workflows, MLflow, notifications, checks). */
  role?: Role;
}

/**
 * Hosts one Slipway role on a Temporal worker whose task queue is that role's queue:
 * `Worker.create({ taskQueue: 'slipway', plugins: [slipwayPlugin({ stateDir, mlflow, env })] })`.
 * Named implementations come in through the options, as `{ jobBackends: { slurm }, deployTargets:
 * { kserve } }`; `local` ones are there by default. The worker's own workflows are kept.
 */
export function slipwayPlugin(options: SlipwayPluginOptions): SimplePlugin {
  const role = options.role ?? 'orchestration';
  const runtime = resolveRuntime(options);
  return new SimplePlugin({
    name: `slipway-${role}`,
    ...(role === 'orchestration' ? { workflowsPath: (existing?: string) => (existing ? combinedWorkflows(existing) : slipwayWorkflowsPath) } : {}),
    activities: createRoleActivities(role, runtime),
  });
}

/**
 * A worker takes one workflowsPath: when the host has its own, both are re-exported from one
 * generated entry file, so adding the plugin keeps the host's workflows.
 */
function combinedWorkflows(hostPath: string): string {
  if (path.resolve(hostPath) === slipwayWorkflowsPath) return slipwayWorkflowsPath;
  const source = [hostPath, slipwayWorkflowsPath].map((p) => `export * from ${JSON.stringify(path.resolve(p))};`).join('\n');
  // Inside a node_modules tree, so the bundler resolves @temporalio/workflow from the entry file.
  const dir = path.join(path.dirname(slipwayWorkflowsPath), '..', '..', 'node_modules', '.cache', 'slipway-workflows');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 16)}${path.extname(slipwayWorkflowsPath)}`);
  writeFileSync(file, `${source}\n`);
  return file;
}
