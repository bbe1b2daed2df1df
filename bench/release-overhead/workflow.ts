// The reference for bench/release-overhead.ts: a bare Temporal workflow that calls the same
// activities as a release, one after another, with none of Slipway's orchestration (no status,
// stages, search attributes, gate, approval or per-stage MLflow bookkeeping).
import { proxyActivities, sleep } from '@temporalio/workflow';
import { runPlan, type PlanActivities, type ReleasePlan } from './plan.js';

const acts = proxyActivities<PlanActivities>({ startToCloseTimeout: '10m', heartbeatTimeout: '2m', retry: { maximumAttempts: 1 } });

export async function bareRelease(plan: ReleasePlan): Promise<void> {
  await runPlan(acts, plan, (ms) => sleep(ms));
}
