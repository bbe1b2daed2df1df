// Whether a decision's signature lets it count: the right key, this release and run, fresh, and
// not seen before. Pure and synchronous, so update validators and signal handlers can both use it.
import { durationMs, type PipelineSpec } from '../spec/schema.js';
import { keysOf, signaturesRequired } from './signers.js';
import { verifySshSignature } from './sshsig.js';
import { canonicalStatement, SIGNATURE_NAMESPACE, type DecisionAction, type SignatureInput } from './statement.js';

export interface SignatureContext {
  spec: PipelineSpec;
  /** The release's workflow id and first run id: what a statement must name. */
  workflowId: string;
  runId: string;
  /** Workflow time. */
  nowMs: number;
  /** Nonces of decisions that counted already. */
  nonceUsed: (nonce: string) => boolean;
}

export interface SignatureVerdict {
  /** Why it cannot count; undefined when it can. */
  refusal?: string;
  signed: boolean;
  fingerprint?: string;
  nonce?: string;
}

/** How far a signature's time may be from the workflow's clock, either way. */
export function signatureWindowMs(spec: PipelineSpec): number {
  return durationMs(spec.approval?.signature_max_age ?? '10m');
}

export function checkSignature(ctx: SignatureContext, action: DecisionAction, by: string, reason: string, sig: SignatureInput | undefined): SignatureVerdict {
  const { spec } = ctx;
  if (!sig) {
    if (!signaturesRequired(spec)) return { signed: false };
    return { signed: false, refusal: `unsigned: this release requires signed decisions; sign with \`slipway ${action} ${ctx.workflowId} --as ${by} --key <your ssh key>\`, or paste the payload of \`slipway sign ${action} ${ctx.workflowId} --as ${by}\`` };
  }
  const refused = (refusal: string, fingerprint?: string): SignatureVerdict => ({ signed: true, refusal, fingerprint, nonce: sig.nonce });
  if (sig.workflowId !== ctx.workflowId) return refused(`signed for another release (${sig.workflowId}), not ${ctx.workflowId}`);
  if (sig.runId !== ctx.runId) return refused(`signed for another run (${sig.runId}) of ${ctx.workflowId}`);
  const keys = keysOf(spec, by);
  if (!keys.length) return refused(`no public key is listed for ${by} (spec: signers or signers_file)`);
  const window = signatureWindowMs(spec);
  const age = ctx.nowMs - Date.parse(sig.time);
  if (age > window) return refused(`stale: signed at ${sig.time}, more than ${spec.approval?.signature_max_age ?? '10m'} ago`);
  if (-age > window) return refused(`signed at ${sig.time}, in the future: check the signer's clock`);
  if (ctx.nonceUsed(sig.nonce)) return refused(`replayed: nonce ${sig.nonce} was already used by a decision on this release`);
  const message = canonicalStatement({ workflowId: sig.workflowId, runId: sig.runId, decision: action, by, reason, time: sig.time, nonce: sig.nonce });
  const check = verifySshSignature(sig.sshsig, message, SIGNATURE_NAMESPACE, keys);
  if (!check.ok) return refused(`bad signature: ${check.reason}`, check.fingerprint);
  return { signed: true, fingerprint: check.fingerprint, nonce: sig.nonce };
}
