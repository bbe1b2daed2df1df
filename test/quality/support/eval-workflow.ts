// A minimal workflow around evaluateModel, for testing the activity on a real worker: heartbeats
// and cancellation travel through the real Temporal dev server.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { EvaluationActivities } from '../../../src/activities/evaluation/activities.js';
import type { EvalSummary, EvaluateModelInput } from '../../../src/activities/evaluation/types.js';

const { evaluateModel } = proxyActivities<EvaluationActivities>({
  startToCloseTimeout: '2 minutes',
  // Cancellation reaches an activity with its next heartbeat, which the worker throttles to
  // 0.8 × heartbeatTimeout: a short timeout keeps cancellation prompt.
  heartbeatTimeout: '2 seconds',
  // Wait for the activity to stop its requests before the workflow reports the cancellation.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 1 },
});

export async function evaluateForTest(input: EvaluateModelInput): Promise<EvalSummary> {
  return evaluateModel(input);
}
