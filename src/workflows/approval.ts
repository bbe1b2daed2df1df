// Waiting for a human: approve/reject by signal (Web UI) or update (CLI), with a deadline; signed
// decisions, a quorum of distinct approvers, and separated duties when the spec asks for them.
import { condition } from '@temporalio/workflow';
import { signaturesRequired } from '../approvals/signers.js';
import type { SignatureInput } from '../approvals/statement.js';
import { durationMs, type PipelineSpec } from '../spec/schema.js';
import { audit, thisRelease, verifyDecision } from './audit.js';
import { enterStage, notify, nowIso, type RunContext } from './context.js';
import type { ApprovalStatus, Decision } from './status.js';

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

/** Why a decision by `who` cannot count now, before its signature is looked at; undefined when it can. */
export function decisionRefusal(ctx: RunContext, who: string, decision: Decision['decision'] = 'approved'): string | undefined {
  const notWaiting = notWaitingForDecision(ctx);
  if (notWaiting) return notWaiting;
  const allowed = allowedApprovers(ctx);
  if (!allowed.includes(who)) return `${who} is not an approver of this release (approvers: ${allowed.join(', ')})`;
  if (decision !== 'approved') return undefined;
  if (ctx.spec.approval?.separate_duties && who === ctx.status.startedBy) {
    return `${who} started this release and may not approve it (approval.separate_duties): another approver must`;
  }
  return undefined;
}

/** A second approval by the same person does not count twice. */
function duplicateVote(ctx: RunContext, who: string, decision: Decision['decision']): string | undefined {
  if (decision === 'approved' && ctx.status.approval?.votes?.some((v) => v.by === who)) return `${who} has already approved: the quorum counts distinct people`;
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

export interface DecisionRequest {
  by: string;
  reason: string;
  signature?: SignatureInput;
  via: 'update' | 'signal';
}

/**
 * Records a decision and returns why it did not count, if it did not: a refused one is kept in
 * `refused` and the audit trail, and the wait goes on. Approvals count once per person until the
 * quorum is met; one rejection rejects.
 */
export function recordDecision(ctx: RunContext, decision: Decision['decision'], req: DecisionRequest): string | undefined {
  const action = decision === 'approved' ? 'approve' : 'reject';
  const at = nowIso();
  let refusal = decisionRefusal(ctx, req.by, decision);
  const verdict = refusal ? { signed: req.signature !== undefined } : verifyDecision(ctx.spec, ctx.status, thisRelease(), action, req.by, req.reason, req.signature);
  // The signature first: a replayed payload is refused as a replay, not merely as a second vote.
  refusal ??= ('refusal' in verdict ? verdict.refusal : undefined) ?? duplicateVote(ctx, req.by, decision);
  const fingerprint = 'fingerprint' in verdict ? verdict.fingerprint : undefined;
  const signed = { signed: verdict.signed, ...(fingerprint ? { fingerprint } : {}) };
  const approval = ctx.status.approval;
  if (refusal || !approval) {
    if (approval) {
      approval.refused.push({ by: req.by, at, reason: refusal ?? '', ...signed });
      // Kept small: the status travels through continue-as-new.
      if (approval.refused.length > 50) approval.refused.shift();
    }
    audit(ctx.status, { action, by: req.by, at, reason: req.reason, counted: false, refusal, ...signed, via: req.via });
    return refusal ?? 'release is not awaiting approval';
  }
  audit(ctx.status, { action, by: req.by, at, reason: req.reason, counted: true, ...signed, ...('nonce' in verdict && verdict.nonce ? { nonce: verdict.nonce } : {}), via: req.via });
  if (decision !== 'approved') {
    approval.decision = { decision, by: req.by, at, reason: req.reason, signed: verdict.signed };
    return undefined;
  }
  const votes = (approval.votes ??= []);
  votes.push({ by: req.by, at, reason: req.reason, ...signed });
  const needed = approval.minApprovals ?? 1;
  if (votes.length >= needed) {
    approval.decision = { decision, by: votes.map((v) => v.by).join(', '), at, reason: votes.map((v) => v.reason).filter(Boolean).join('; '), signed: votes.every((v) => v.signed) };
    delete approval.stillNeeded;
  } else {
    approval.stillNeeded = stillNeeded(ctx, approval);
  }
  return undefined;
}

function stillNeeded(ctx: RunContext, approval: ApprovalStatus): { count: number; from: string[] } {
  const voted = new Set((approval.votes ?? []).map((v) => v.by));
  const from = [...new Set(allowedApprovers(ctx))].filter((a) => !voted.has(a) && !(ctx.spec.approval?.separate_duties && a === ctx.status.startedBy));
  return { count: (approval.minApprovals ?? 1) - voted.size, from };
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
  // Only what this spec asks for is shown: runs recorded before quorums keep their old status.
  if (approval.min_approvals > 1) {
    ctx.status.approval.minApprovals = approval.min_approvals;
    ctx.status.approval.votes = [];
    ctx.status.approval.stillNeeded = stillNeeded(ctx, ctx.status.approval);
  }
  if (signaturesRequired(ctx.spec)) ctx.status.approval.requireSignature = true;
  enterStage(ctx, 'awaiting-approval');
  const decided = () => ctx.status.approval?.decision !== undefined;

  const rounds = approval.on_timeout === 'escalate' ? 2 : 1;
  for (let round = 0; round < rounds && !decided(); round++) {
    if (round === 1) {
      ctx.status.approval.escalated = true;
      if (ctx.status.approval.stillNeeded) ctx.status.approval.stillNeeded = stillNeeded(ctx, ctx.status.approval);
      await notify(ctx, 'approval-escalated', `Approval for ${ctx.status.workflowId} timed out; escalated to ${approval.escalate_to.join(', ')}.`);
    }
    ctx.status.approval.deadline = new Date(new Date().getTime() + timeout).toISOString();
    await notify(ctx, 'awaiting-approval', approvalMessage(ctx), { approvers: allowedApprovers(ctx).join(', '), deadline: ctx.status.approval.deadline });
    if (await condition(decided, timeout / 2)) break;
    await notify(ctx, 'approval-reminder', `Reminder: ${approvalMessage(ctx)}`);
    await condition(decided, timeout - timeout / 2);
  }
  if (!ctx.status.approval.decision) {
    const reason = `no decision within ${approval.timeout}`;
    ctx.status.approval.decision = { decision: 'rejected', by: 'system:timeout', at: nowIso(), reason };
    audit(ctx.status, { action: 'timeout', by: 'system:timeout', at: nowIso(), reason, counted: true, signed: false, via: 'workflow' });
  }
  return ctx.status.approval.decision;
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
