// The release's audit trail: every decision, refusal and rollback order, kept in its own status
// (so it travels through continue-as-new, and `slipway audit` reads it from the workflow).
import { workflowInfo } from '@temporalio/workflow';
import { checkSignature, type SignatureVerdict } from '../approvals/check.js';
import type { DecisionAction, SignatureInput } from '../approvals/statement.js';
import type { PipelineSpec } from '../spec/schema.js';
import type { AuditEntry, PipelineStatus } from './status.js';

/** Kept small: the status is the query answer and the continue-as-new input. */
const MAX_ENTRIES = 200;

export function audit(status: PipelineStatus, entry: AuditEntry): void {
  const trail = (status.audit ??= []);
  trail.push(entry);
  if (trail.length > MAX_ENTRIES) trail.shift();
}

/**
 * Checks a decision's signature against the release it is made on (workflow id and first run id,
 * which continue-as-new keeps) at workflow time, refusing nonces already counted.
 */
export function verifyDecision(
  spec: PipelineSpec,
  status: PipelineStatus,
  release: { workflowId: string; runId: string },
  action: DecisionAction,
  by: string,
  reason: string,
  signature: SignatureInput | undefined,
): SignatureVerdict {
  const nonceUsed = (nonce: string) => (status.audit ?? []).some((e) => e.counted && e.nonce === nonce);
  return checkSignature({ spec, ...release, nowMs: new Date().getTime(), nonceUsed }, action, by, reason, signature);
}

/** This release's identity as a signed statement names it. */
export function thisRelease(): { workflowId: string; runId: string } {
  const info = workflowInfo();
  return { workflowId: info.workflowId, runId: info.firstExecutionRunId };
}

/** The audit trail as MLflow tags on the release's run: who decided, signed or not, with which key. */
export function auditTags(status: PipelineStatus): Record<string, string> {
  const trail = status.audit ?? [];
  const line = (e: AuditEntry) =>
    `${e.at} ${e.action} by ${e.by}: ${e.counted ? 'counted' : `refused (${e.refusal ?? ''})`}, ${e.signed ? `signed ${e.fingerprint ?? ''}`.trim() : 'unsigned'}${e.reason ? `, reason: ${e.reason}` : ''}`;
  const votes = status.approval?.votes ?? trail.filter((e) => e.counted && e.action !== 'rollback').map((e) => ({ by: e.by, signed: e.signed, fingerprint: e.fingerprint }));
  // MLflow caps a tag's value (5000 characters on older servers): keep the newest lines.
  let text = trail.map(line).join('\n');
  if (text.length > 5000) text = `…${text.slice(text.length - 4999)}`;
  return {
    'slipway.approval.signed': String(status.approval?.decision?.signed ?? false),
    'slipway.approval.votes': votes.map((v) => `${v.by} (${v.signed ? `signed ${v.fingerprint ?? ''}`.trim() : 'unsigned'})`).join('; '),
    'slipway.approval.refused': String(trail.filter((e) => !e.counted).length),
    'slipway.audit': text,
  };
}
