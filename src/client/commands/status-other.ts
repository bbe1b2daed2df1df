// `slipway status` for the workflows that are not releases: a CI checks run (`checks:…`), a rollback.
import { WorkflowFailedError, type WorkflowExecutionDescription } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodePayload } from '../payloads.js';
import type { CheckResult } from '../../activities/checks/run-check.js';
import type { LightChecksReport, TriggerInfo } from '../../workflows/light-checks.js';
import { dim, red } from '../output.js';
import type { SlipwayClient } from '../slipway-client.js';

/** What `status` shows of a workflow that has no `status` query: its state and, once closed, its outcome. */
export interface OtherWorkflowView {
  workflowId: string;
  type: string;
  status: string;
  startTime: string;
  closeTime?: string;
  /** lightChecks: the checks' report (passed or failed), once the run has closed. */
  report?: { passed: boolean; trigger: TriggerInfo; checks: CheckResult[] };
  /** The checks or activities running now (from their heartbeats). */
  running: string[];
  /** Any other finished workflow's result. */
  result?: unknown;
  error?: string;
}

const LOG_LINES = 5;

export async function otherWorkflowView(client: SlipwayClient, d: WorkflowExecutionDescription): Promise<OtherWorkflowView> {
  const view: OtherWorkflowView = {
    workflowId: d.workflowId,
    type: d.type,
    status: d.status.name,
    startTime: d.startTime.toISOString(),
    closeTime: d.closeTime?.toISOString(),
    running: await Promise.all(
      (d.raw.pendingActivities ?? []).map(async (a) => {
        const details = (await decodePayload<{ check?: unknown }>(client.client, a.heartbeatDetails?.payloads?.[0]).catch(() => undefined)) ?? {};
        return typeof details.check === 'string' ? details.check : (a.activityType?.name ?? 'activity');
      }),
    ),
  };
  if (d.status.name === 'RUNNING') return view;
  try {
    const result = await client.handle(d.workflowId).result();
    if (d.type === 'lightChecks') view.report = result as LightChecksReport;
    else view.result = result;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    // A failed checks run carries its full report: show it rather than only the summary.
    if (cause instanceof ApplicationFailure && cause.type === 'ChecksFailed' && cause.details?.[0]) view.report = cause.details[0] as LightChecksReport;
    view.error = cause?.message ?? (err instanceof Error ? err.message : String(err));
  }
  return view;
}

export function formatOtherWorkflow(v: OtherWorkflowView): string[] {
  const what = v.type === 'lightChecks' ? 'light checks (CI)' : `${v.type} workflow`;
  const outcome = v.report ? (v.report.passed ? 'passed' : 'failed') : v.status.toLowerCase();
  const lines = [`${v.workflowId}  ${what}  ${outcome}  (${v.status.toLowerCase()})`];
  if (v.report) {
    lines.push(`  trigger: ${v.report.trigger.kind}: ${v.report.trigger.reason}`);
    for (const c of v.report.checks) {
      lines.push(`  ${c.passed ? '✅' : '❌'} ${c.name}: exit ${c.exitCode ?? 'none'} in ${(c.durationMs / 1000).toFixed(1)}s, log ${c.logPath} (on the worker)`);
      if (!c.passed) for (const l of c.logTail.split('\n').slice(-LOG_LINES)) lines.push(dim(`      ${l}`));
    }
  }
  for (const r of v.running) lines.push(`  running: ${r}`);
  if (v.result !== undefined) lines.push(`  result: ${JSON.stringify(v.result)}`);
  if (v.error && !v.report) lines.push(red(`  error: ${v.error}`));
  if (v.type !== 'lightChecks' && v.type !== 'rollbackRelease') lines.push(dim(`  not a Slipway release: see it in the Temporal UI or with \`temporal workflow describe --workflow-id ${v.workflowId}\``));
  return lines;
}
