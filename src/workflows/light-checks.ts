// The light layer of CI: a code-only change runs the spec's checks, not the full release pipeline.
import { ActivityCancellationType, ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CheckActivities, CheckResult, RunCheckInput } from '../activities/checks/run-check.js';

/** Why a CI workflow started: which rule matched which changed files. */
export interface TriggerInfo {
  /** The rules that matched: `code`, `data`, `model`, or several joined by `+`. */
  kind: string;
  reason: string;
  files: string[];
}

export interface LightChecksInput {
  pipeline: string;
  checks: RunCheckInput[];
  trigger: TriggerInfo;
}

export interface LightChecksReport {
  pipeline: string;
  workflowId: string;
  trigger: TriggerInfo;
  passed: boolean;
  checks: CheckResult[];
}

// Checks can run for a while (test suites); a short heartbeat timeout notices a dead worker and
// delivers a cancel within seconds. A failed check is a result, so retries only cover lost workers.
const { runCheck } = proxyActivities<CheckActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '10s',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 2 },
});

/**
 * Runs every check in order (all of them, even after a failure, so one run shows every problem)
 * and returns the report; fails with a non-retryable `ChecksFailed` carrying it if any failed.
 */
export async function lightChecks(input: LightChecksInput): Promise<LightChecksReport> {
  if (!input.pipeline || !Array.isArray(input.checks)) {
    throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: 'lightChecks needs { pipeline, checks, trigger }' });
  }
  const results: CheckResult[] = [];
  for (const check of input.checks) results.push(await runCheck(check));
  const report: LightChecksReport = {
    pipeline: input.pipeline,
    workflowId: workflowInfo().workflowId,
    trigger: input.trigger,
    passed: results.every((r) => r.passed),
    checks: results,
  };
  if (!report.passed) {
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name} (exit ${r.exitCode ?? 'none'})`);
    throw ApplicationFailure.create({ type: 'ChecksFailed', nonRetryable: true, message: `checks failed: ${failed.join(', ')}`, details: [report] });
  }
  return report;
}
