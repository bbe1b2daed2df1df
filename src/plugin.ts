// Slipway as a Temporal plugin: any worker can host one role of it, with the job backends, deploy
// targets and artifact store its host provides.
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRoleActivities } from './activities/index.js';
import { resolveRuntime, type RuntimeOptions } from './runtime.js';
import type { Role } from './queues.js';
import { workflowsPath as slipwayWorkflowsPath } from './worker-paths.js';
import { ownWorkflowBundle } from './prebuilt-workflows.js';

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
  const pluginOptions = { name: `slipway-${role}`, activities: createRoleActivities(role, runtime) };
  if (role !== 'orchestration') return new SimplePlugin(pluginOptions);
  return new WorkflowsPlugin({ ...pluginOptions, workflowsPath: (existing?: string) => (existing ? combinedWorkflows(existing) : slipwayWorkflowsPath) });
}

/**
 * Adds Slipway's workflows: the bundle `npm run build` made when the host brings no workflows of its
 * own (no bundling at start), else Slipway's entry (re-exported beside the host's) to bundle at start.
 */
class WorkflowsPlugin extends SimplePlugin {
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    const prebuilt = options.workflowsPath === undefined && options.workflowBundle === undefined ? ownWorkflowBundle() : null;
    return prebuilt ? { ...configured, workflowsPath: undefined, workflowBundle: { codePath: prebuilt } } : configured;
  }
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
