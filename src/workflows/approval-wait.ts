// Waiting for a human: approve/reject by signal (Web UI) or update (CLI) until a deadline, with a
// reminder half way and an escalation round; a long wait continues as new as its history grows.
import { allHandlersFinished, condition, continueAsNew, patched } from '@temporalio/workflow';
import { signaturesRequired } from '../approvals/signers.js';
import { durationMs } from '../spec/schema.js';
import { allowedApprovers, stillNeeded } from './approval.js';
import { audit } from './audit.js';
import { enterStage, notify, nowIso, type ApprovalWait, type ReleaseInput, type RunContext } from './context.js';
import { historyTooLong } from './history-bound.js';
import { refreshDetails } from './metadata.js';
import type { releasePipeline } from './release-pipeline.js';
import type { ApprovalStatus, Decision } from './status.js';

/**
 * Waits for a decision until the spec's timeout (days are normal), reminding the approvers half
 * way. On timeout the spec says: reject, or escalate once to `escalate_to` and wait again. A long
 * wait continues as new when its history grows (see waitAcrossRuns); `resumed` is where it stood.
 */
export async function awaitApproval(ctx: RunContext, resumed?: ApprovalWait): Promise<Decision> {
  const approval = ctx.spec.approval;
  if (!approval?.required) return { decision: 'approved', by: 'system:not-required', at: nowIso(), reason: 'approval not required by the spec' };
  const timeout = durationMs(approval.timeout);
  if (resumed && ctx.status.approval) refreshDetails(ctx);
  else {
    ctx.status.approval = { approvers: approval.approvers, escalated: false, refused: [] };
    // Only what this spec asks for is shown: runs recorded before quorums keep their old status.
    if (approval.min_approvals > 1) {
      ctx.status.approval.minApprovals = approval.min_approvals;
      ctx.status.approval.votes = [];
      ctx.status.approval.stillNeeded = stillNeeded(ctx, ctx.status.approval);
    }
    if (signaturesRequired(ctx.spec)) ctx.status.approval.requireSignature = true;
    enterStage(ctx, 'awaiting-approval');
  }
  const status = ctx.status.approval;
  const decided = () => status.decision !== undefined;
  const rounds = approval.on_timeout === 'escalate' ? 2 : 1;

  // Runs recorded before waits continued as new waited in one run, with these same timers.
  if (resumed || patched('approval-continue-as-new')) await waitAcrossRuns(ctx, status, timeout, rounds, resumed);
  else {
    for (let round = 0; round < rounds && !decided(); round++) {
      if (round === 1) await escalate(ctx, status);
      status.deadline = new Date(new Date().getTime() + timeout).toISOString();
      await notify(ctx, 'awaiting-approval', approvalMessage(ctx), { approvers: allowedApprovers(ctx).join(', '), deadline: status.deadline });
      if (await condition(decided, timeout / 2)) break;
      await notify(ctx, 'approval-reminder', `Reminder: ${approvalMessage(ctx)}`);
      await condition(decided, timeout - timeout / 2);
    }
  }
  if (!status.decision) {
    const reason = `no decision within ${approval.timeout}`;
    status.decision = { decision: 'rejected', by: 'system:timeout', at: nowIso(), reason };
    audit(ctx.status, { action: 'timeout', by: 'system:timeout', at: nowIso(), reason, counted: true, signed: false, via: 'workflow' });
  }
  return status.decision;
}

/**
 * The same rounds, reminder and deadline, measured from the deadline in the status so that a wait
 * can go on in the next run of the chain: messages (a flood of them, too) grow the history, and the
 * run continues as new, carrying the status, when Temporal suggests it or the bound is reached.
 */
async function waitAcrossRuns(ctx: RunContext, status: ApprovalStatus, timeout: number, rounds: number, resumed: ApprovalWait | undefined): Promise<void> {
  for (let round = resumed?.round ?? 0; round < rounds && status.decision === undefined; round++) {
    const resumedRound = resumed !== undefined && round === resumed.round;
    if (!resumedRound || !status.deadline) {
      if (round === 1) await escalate(ctx, status);
      status.deadline = new Date(new Date().getTime() + timeout).toISOString();
      await notify(ctx, 'awaiting-approval', approvalMessage(ctx), { approvers: allowedApprovers(ctx).join(', '), deadline: status.deadline });
    }
    const deadline = Date.parse(status.deadline);
    if (!(resumedRound && resumed.reminded)) {
      if (await waitUntil(ctx, status, deadline - timeout / 2, { round, reminded: false })) return;
      await notify(ctx, 'approval-reminder', `Reminder: ${approvalMessage(ctx)}`);
    }
    if (await waitUntil(ctx, status, deadline, { round, reminded: true })) return;
  }
}

/** True once decided; false at `untilMs` (workflow time). Continues as new first if the history is too long. */
async function waitUntil(ctx: RunContext, status: ApprovalStatus, untilMs: number, wait: ApprovalWait): Promise<boolean> {
  const decided = () => status.decision !== undefined;
  const due = () => historyTooLong(ctx.input.maxHistoryEvents);
  const left = untilMs - new Date().getTime();
  if (left > 0) await condition(() => decided() || due(), left);
  if (decided()) return true;
  if (!due()) return false;
  // Handlers first: an update still running would be lost with this run.
  await condition(allHandlersFinished);
  status.continuedAsNew = (status.continuedAsNew ?? 0) + 1;
  const next: ReleaseInput = { ...ctx.input, carried: { status: ctx.status, previousSnapshot: null, approvalWait: wait } };
  return continueAsNew<typeof releasePipeline>(next);
}

async function escalate(ctx: RunContext, status: ApprovalStatus): Promise<void> {
  status.escalated = true;
  if (status.stillNeeded) status.stillNeeded = stillNeeded(ctx, status);
  await notify(ctx, 'approval-escalated', `Approval for ${ctx.status.workflowId} timed out; escalated to ${ctx.spec.approval?.escalate_to.join(', ')}.`);
}

function approvalMessage(ctx: RunContext): string {
  const id = ctx.status.workflowId;
  const gate = ctx.status.gate?.passed ? 'passed the gate' : 'is waiting';
  if (signaturesRequired(ctx.spec)) {
    return (
      `Release ${id} ${gate} and needs signed approval. ` +
      `Approve: \`slipway approve ${id} --as <you> --key ~/.ssh/id_ed25519 --reason "..."\`; ` +
      `or in the Temporal UI: Send Signal → approve with the payload of \`slipway sign approve ${id} --as <you> --reason "..."\`.`
    );
  }
  return (
    `Release ${id} ${gate} and needs approval. ` +
    `Approve: \`slipway approve ${id} --as <you> --reason "..."\`; ` +
    `or in the Temporal UI: workflow ${id} → Send Signal → approve with {"approver":"<you>","reason":"..."}.`
  );
}
