// Waiting for a human: approve/reject by signal (Web UI) or update (CLI), with a deadline.
import { condition } from '@temporalio/workflow';
import { durationMs, type PipelineSpec } from '../spec/schema.js';
import { enterStage, notify, nowIso, type RunContext } from './context.js';
import type { Decision } from './status.js';

/** Why the release takes no decision now (not at the gate, or decided already), or undefined. */
export function notWaitingForDecision(ctx: RunContext): string | undefined {
  const approval = ctx.status.approval;
  if (ctx.status.stage !== 'awaiting-approval' || !approval) return `release is not awaiting approval (stage: ${ctx.status.stage})`;
  if (approval.decision) return `already ${approval.decision.decision} by ${approval.decision.by}`;
  return undefined;
}

/** Who may decide now: the approvers, plus the escalation list once the wait was escalated. */
export function allowedApprovers(ctx: RunContext): string[] {
  const approval = ctx.spec.approval;
  if (!approval) return [];
  return ctx.status.approval?.escalated ? [...approval.approvers, ...approval.escalate_to] : approval.approvers;
}

/** Why a decision by `who` cannot count now, or undefined when it can. */
export function decisionRefusal(ctx: RunContext, who: string): string | undefined {
  const notWaiting = notWaitingForDecision(ctx);
  if (notWaiting) return notWaiting;
  const allowed = allowedApprovers(ctx);
  if (!allowed.includes(who)) return `${who} is not an approver of this release (approvers: ${allowed.join(', ')})`;
  return undefined;
}

/**
 * Why `who` may not order a rollback of a release with this spec: only its approvers, escalation
 * approvers and operators may (with none of them listed, anyone named may). Undefined when allowed.
 */
export function rollbackNotAllowed(spec: PipelineSpec, who: string): string | undefined {
  const allowed = [...(spec.approval?.approvers ?? []), ...(spec.approval?.escalate_to ?? []), ...spec.operators];
  if (allowed.length && !allowed.includes(who)) return `${who} may not roll back this release (allowed: ${allowed.join(', ')})`;
  return undefined;
}

/** Records a decision; one that cannot count is kept in `refused` and the wait goes on. */
export function recordDecision(ctx: RunContext, decision: Decision['decision'], by: string, reason: string): void {
  const refusal = decisionRefusal(ctx, by);
  if (refusal) {
    const refused = ctx.status.approval?.refused;
    refused?.push({ by, at: nowIso(), reason: refusal });
    // Kept small: the status travels through continue-as-new.
    if (refused && refused.length > 50) refused.shift();
    return;
  }
  if (ctx.status.approval) ctx.status.approval.decision = { decision, by, at: nowIso(), reason };
}

/**
 * Waits for a decision until the spec's timeout (days are normal), reminding the approvers half
 * way. On timeout the spec says: reject, or escalate once to `escalate_to` and wait again.
 */
export async function awaitApproval(ctx: RunContext): Promise<Decision> {
  const approval = ctx.spec.approval;
  if (!approval?.required) return { decision: 'approved', by: 'system:not-required', at: nowIso(), reason: 'approval not required by the spec' };
  const timeout = durationMs(approval.timeout);
  ctx.status.approval = { approvers: approval.approvers, escalated: false, refused: [] };
  enterStage(ctx, 'awaiting-approval');
  const decided = () => ctx.status.approval?.decision !== undefined;

  const rounds = approval.on_timeout === 'escalate' ? 2 : 1;
  for (let round = 0; round < rounds && !decided(); round++) {
    if (round === 1) {
      ctx.status.approval.escalated = true;
      await notify(ctx, 'approval-escalated', `Approval for ${ctx.status.workflowId} timed out; escalated to ${approval.escalate_to.join(', ')}.`);
    }
    ctx.status.approval.deadline = new Date(new Date().getTime() + timeout).toISOString();
    await notify(ctx, 'awaiting-approval', approvalMessage(ctx), { approvers: allowedApprovers(ctx).join(', '), deadline: ctx.status.approval.deadline });
    if (await condition(decided, timeout / 2)) break;
    await notify(ctx, 'approval-reminder', `Reminder: ${approvalMessage(ctx)}`);
    await condition(decided, timeout - timeout / 2);
  }
  if (!ctx.status.approval.decision) {
    ctx.status.approval.decision = { decision: 'rejected', by: 'system:timeout', at: nowIso(), reason: `no decision within ${approval.timeout}` };
  }
  return ctx.status.approval.decision;
}

function approvalMessage(ctx: RunContext): string {
  const id = ctx.status.workflowId;
  const gate = ctx.status.gate?.passed ? 'passed the gate' : 'is waiting';
  return (
    `Release ${id} ${gate} and needs approval. ` +
    `Approve: \`slipway approve ${id} --as <you> --reason "..."\`; ` +
    `or in the Temporal UI: workflow ${id} → Send Signal → approve with {"approver":"<you>","reason":"..."}.`
  );
}
