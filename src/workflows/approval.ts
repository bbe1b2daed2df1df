// Deciding a release: who may approve, reject or roll back now, and how a decision is counted —
// signed decisions, a quorum of distinct approvers, separated duties. The wait is in approval-wait.ts.
import type { SignatureInput } from '../approvals/statement.js';
import type { PipelineSpec } from '../spec/schema.js';
import { audit, thisRelease, verifyDecision } from './audit.js';
import { nowIso, type RunContext } from './context.js';
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

/** Who may still approve while the quorum is not met (shown in the status). */
export function stillNeeded(ctx: RunContext, approval: ApprovalStatus): { count: number; from: string[] } {
  const voted = new Set((approval.votes ?? []).map((v) => v.by));
  const from = [...new Set(allowedApprovers(ctx))].filter((a) => !voted.has(a) && !(ctx.spec.approval?.separate_duties && a === ctx.status.startedBy));
  return { count: (approval.minApprovals ?? 1) - voted.size, from };
}
