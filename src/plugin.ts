import { SimplePlugin } from '@temporalio/plugin';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { workflowsPath } from './worker-paths.js';

export type SlipwayPluginOptions = ActivityDeps;

/**
 * Hosts Slipway's workflows and activities on any Temporal worker:
 * `Worker.create({ ..., plugins: [slipwayPlugin({ stateDir, mlflow, env })] })`.
 */
export function slipwayPlugin(options: SlipwayPluginOptions): SimplePlugin {
  return new SimplePlugin({
    name: 'slipway',
    workflowsPath,
    activities: createActivities(options),
  });
}
