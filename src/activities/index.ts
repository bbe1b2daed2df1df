import path from 'node:path';
import { createCheckActivities } from './checks/run-check.js';
import { createDeployActivities } from './deploy/activities.js';
import { createEvaluationActivities } from './evaluation/activities.js';
import { createJobActivities } from './jobs/train.js';
import type { MlflowConfig } from './mlflow/client.js';
import { createMlflowActivities } from './mlflow/tracking.js';
import { createNotifyActivities } from './notify/webhook.js';

/** Everything an activity needs from the outside, read once at the edge (worker or test). */
export interface ActivityDeps {
  /** Directory for job logs, checkpoints, caches, deployments. */
  stateDir: string;
  /** MLflow connection (from MLFLOW_TRACKING_* env vars); secrets stay here, out of history. */
  mlflow: MlflowConfig;
  /** The worker's environment, for webhook URLs named in specs. */
  env: NodeJS.ProcessEnv;
}

/** Builds every activity the Slipway worker registers. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createJobActivities({ stateDir: deps.stateDir }),
    ...createEvaluationActivities({
      cacheDir: path.join(deps.stateDir, 'cache', 'eval'),
      outputDir: path.join(deps.stateDir, 'evals'),
    }),
    ...createDeployActivities({ stateDir: deps.stateDir }),
    ...createMlflowActivities({ config: deps.mlflow }),
    ...createNotifyActivities(deps.env),
    ...createCheckActivities({ stateDir: deps.stateDir }),
  };
}

export type SlipwayActivities = ReturnType<typeof createActivities>;
