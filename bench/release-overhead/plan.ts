// The work of one release, in the order the pipeline does it, without Slipway's orchestration:
// train, serve, evaluate, promote, smoke, monitor (a baseline sample, one interval, one sample)
// and, with MLflow on, the release's MLflow records in one call. Pure: the bare workflow runs it
// with proxied activities and the workflow's timer, the bench runs it with the same functions
// called directly and a plain timer.
import type { DeployCandidateInput, PromoteVersionInput } from '../../src/activities/deploy/activities.js';
import type { EvaluateModelInput, SmokeInput } from '../../src/activities/evaluation/types.js';
import type { ServingActivities, TrainingActivities } from '../../src/activities/index.js';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import type { ArtifactRef } from '../../src/activities/artifacts/store.js';

export interface ReleasePlan {
  train: TrainInput;
  deploy: Omit<DeployCandidateInput, 'artifact' | 'artifactPath'>;
  evaluate: Omit<EvaluateModelInput, 'endpoint' | 'metricsUrl' | 'modelDigest'>;
  promote: PromoteVersionInput;
  smoke: Omit<SmokeInput, 'endpoint'>;
  monitorMs: number;
  /** The release's MLflow records (null: MLflow off). */
  mlflow: MlflowRecordInput | null;
}

export interface MlflowRecordInput {
  experimentName: string;
  modelName: string;
  workflowId: string;
  specJson: string;
}

export interface TrainedModel {
  artifact: ArtifactRef;
  artifactPath: string;
  artifactDigest: string;
  lossByStep: Array<{ step: number; loss: number }>;
  metrics: Record<string, number>;
}

type Pick2<T, K extends keyof T> = { [P in K]: T[P] };
export type PlanActivities = Pick2<TrainingActivities, 'trainModel'> &
  Pick2<ServingActivities, 'deployCandidate' | 'evaluateModel' | 'promoteVersion' | 'smokeTest' | 'sampleProductionMetrics'> & {
    recordReleaseInMlflow(input: MlflowRecordInput & { model: TrainedModel }): Promise<void>;
  };

/** Runs the plan; `sleep` is the caller's timer (the workflow's, or a plain one). */
export async function runPlan(a: PlanActivities, plan: ReleasePlan, sleep: (ms: number) => Promise<void>): Promise<void> {
  const trained = await a.trainModel(plan.train);
  const served = await a.deployCandidate({ ...plan.deploy, artifact: trained.artifact });
  const summary = await a.evaluateModel({ ...plan.evaluate, endpoint: served.endpoint, metricsUrl: `${served.endpoint}/metrics`, modelDigest: trained.artifactDigest });
  const promoted = await a.promoteVersion(plan.promote);
  await a.smokeTest({ ...plan.smoke, endpoint: promoted.endpoint });
  const baseline = await a.sampleProductionMetrics({ endpoint: promoted.endpoint, previous: null });
  await sleep(plan.monitorMs);
  await a.sampleProductionMetrics({ endpoint: promoted.endpoint, previous: baseline.snapshot });
  if (plan.mlflow) {
    const metrics = { accuracy: summary.accuracy, latency_p99_ms: summary.latency_p99_ms };
    await a.recordReleaseInMlflow({ ...plan.mlflow, model: { artifact: trained.artifact, artifactPath: trained.artifactPath, artifactDigest: trained.artifactDigest, lossByStep: trained.lossByStep, metrics } });
  }
}
