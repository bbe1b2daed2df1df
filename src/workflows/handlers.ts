// Message handlers of the release pipeline: the status query, approvals and rollback orders.
// Signals (Web UI) never throw: a bad payload is recorded and ignored. Updates (CLI) validate first.
import { ApplicationFailure, condition, log, setHandler } from '@temporalio/workflow';
import type { SignatureInput } from '../approvals/statement.js';
import { notWaitingForDecision, recordDecision, rollbackNotAllowed } from './approval.js';
import { audit, thisRelease, verifyDecision } from './audit.js';
import { nowIso, type RunContext } from './context.js';
import { refreshDetails } from './metadata.js';
import {
  approveSignal,
  approveUpdate,
  DecisionInputSchema,
  rejectSignal,
  rejectUpdate,
  rollbackSignal,
  rollbackUpdate,
  RollbackInputSchema,
  ROLLOUT_ACTIONS,
  RolloutOrderSchema,
  rolloutSignals,
  rolloutUpdates,
  type RolloutAction,
  statusQuery,
  SupersedeInputSchema,
  supersedeSignal,
} from './messages.js';
import type { Decision } from './status.js';

export function registerHandlers(ctx: RunContext): void {
  setHandler(statusQuery, () => ctx.status);
  registerRolloutHandlers(ctx);

  const onDecision = (decision: Decision['decision']) => (raw: unknown) => {
    const payload = DecisionInputSchema.safeParse(raw);
    if (!payload.success) return invalid(ctx, decision === 'approved' ? 'approve' : 'reject', payload.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
    recordDecision(ctx, decision, { by: payload.data.approver, reason: payload.data.reason, signature: payload.data.signature, via: 'signal' });
    refreshDetails(ctx);
  };
  setHandler(approveSignal, onDecision('approved'));
  setHandler(rejectSignal, onDecision('rejected'));

  // A malformed update is refused before history. A refused decision is accepted so that it is kept
  // in `approval.refused` (the audit trail), then fails with the reason.
  const decide = (decision: Decision['decision']) => (raw: unknown) => {
    const payload = DecisionInputSchema.parse(raw);
    const refusal = recordDecision(ctx, decision, { by: payload.approver, reason: payload.reason, signature: payload.signature, via: 'update' });
    if (refusal) throw ApplicationFailure.create({ type: 'DecisionRefused', nonRetryable: true, message: refusal });
    return ctx.status;
  };
  const validateDecision = (raw: unknown) => {
    const payload = DecisionInputSchema.parse(raw);
    // Before the gate there is no approval to record a refusal in: refuse outright.
    if (!ctx.status.approval) throw new Error(notWaitingForDecision(ctx) ?? `${payload.approver} cannot decide now`);
  };
  setHandler(approveUpdate, decide('approved'), { validator: validateDecision });
  setHandler(rejectUpdate, decide('rejected'), { validator: validateDecision });

  setHandler(supersedeSignal, (raw) => {
    const payload = SupersedeInputSchema.safeParse(raw);
    if (!payload.success) return invalid(ctx, 'supersede', payload.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
    // Only a newer release of the same model sends it (supersedeWaitingReleases), never a person.
    if (!payload.data.by.startsWith(`release:${ctx.spec.model.name}:`)) return invalid(ctx, 'supersede', `${payload.data.by} is not a release of ${ctx.spec.model.name}`);
    const notWaiting = notWaitingForDecision(ctx);
    if (notWaiting) return invalid(ctx, 'supersede', notWaiting);
    if (ctx.status.approval) ctx.status.approval.decision = { decision: 'superseded', by: payload.data.by, at: nowIso(), reason: payload.data.reason };
  });

  setHandler(rollbackSignal, (raw) => {
    const payload = RollbackInputSchema.safeParse(raw);
    if (!payload.success) return invalid(ctx, 'rollback', payload.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
    const refusal = acceptRollback(ctx, { by: payload.data.requestedBy, reason: payload.data.reason, signature: payload.data.signature, via: 'signal' });
    if (refusal) return invalid(ctx, 'rollback', refusal);
  });
  setHandler(
    rollbackUpdate,
    async (raw) => {
      const payload = RollbackInputSchema.parse(raw);
      // The validator let it through, but a signature's nonce is only spent here, in history.
      const refusal = acceptRollback(ctx, { by: payload.requestedBy, reason: payload.reason, signature: payload.signature, via: 'update' });
      if (refusal) throw ApplicationFailure.create({ type: 'DecisionRefused', nonRetryable: true, message: refusal });
      await condition(() => ctx.status.stage === 'rolled-back' || ctx.status.stage === 'failed');
      return ctx.status;
    },
    {
      validator: (raw) => {
        const payload = RollbackInputSchema.parse(raw);
        const refusal = rollbackRefusal(ctx, payload.requestedBy) ?? verifyDecision(ctx.spec, ctx.status, thisRelease(), 'rollback', payload.requestedBy, payload.reason, payload.signature).refusal;
        if (refusal) throw new Error(refusal);
      },
    },
  );
}

/** Promote, abort, pause and resume of a canary: signals record bad orders, updates refuse them. */
function registerRolloutHandlers(ctx: RunContext): void {
  for (const action of ROLLOUT_ACTIONS) {
    setHandler(rolloutSignals[action], (raw) => {
      const payload = RolloutOrderSchema.safeParse(raw);
      if (!payload.success) return invalid(ctx, action, payload.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
      const refusal = rolloutRefusal(ctx, action, payload.data.by);
      if (refusal) return invalid(ctx, action, refusal);
      applyRolloutOrder(ctx, action, payload.data);
    });
    setHandler(
      rolloutUpdates[action],
      (raw) => {
        applyRolloutOrder(ctx, action, RolloutOrderSchema.parse(raw));
        return ctx.status;
      },
      {
        validator: (raw) => {
          const refusal = rolloutRefusal(ctx, action, RolloutOrderSchema.parse(raw).by);
          if (refusal) throw new Error(refusal);
        },
      },
    );
  }
}

function rolloutRefusal(ctx: RunContext, action: RolloutAction, who: string): string | undefined {
  const r = ctx.status.rollout;
  if (ctx.status.stage !== 'canary' || !r) return `no canary rollout in progress (stage ${ctx.status.stage})`;
  const notAllowed = rollbackNotAllowed(ctx.spec, who);
  if (notAllowed) return notAllowed.replace('roll back this release', `${action} this rollout`);
  const c = ctx.rolloutControl;
  if (c.abort) return `the rollout is being aborted (by ${c.abort.by})`;
  if (action === 'pause' && c.paused) return 'the rollout is already paused';
  if (action === 'resume' && !c.paused) return 'the rollout is not paused by a person (an inconclusive analysis or a pause step waits for promote)';
  return undefined;
}

function applyRolloutOrder(ctx: RunContext, action: RolloutAction, order: { by: string; reason: string; full: boolean }): void {
  const c = ctx.rolloutControl;
  if (action === 'promote') {
    if (order.full) c.full = true;
    else c.promotes += 1;
  } else if (action === 'abort') c.abort ??= { by: order.by, reason: order.reason || 'aborted by a person' };
  else c.paused = action === 'pause';
  ctx.status.rollout?.controls.push({ action: order.full ? 'promote --full' : action, by: order.by, at: nowIso(), reason: order.reason || undefined });
}

/** Rollback needs something deployed, and a requester who is an approver or operator. */
function rollbackRefusal(ctx: RunContext, who: string): string | undefined {
  const stage = ctx.status.stage;
  if (!['deploying', 'smoke-testing', 'monitoring'].includes(stage)) return `nothing to roll back in stage ${stage}`;
  const notAllowed = rollbackNotAllowed(ctx.spec, who);
  if (notAllowed) return notAllowed;
  if (ctx.rollbackRequest) return `a rollback was already requested by ${ctx.rollbackRequest.by}`;
  if (ctx.status.deployment?.previousVersion === null) return `${ctx.status.deployment.version} is the first version of ${ctx.spec.name}: there is nothing to roll back to`;
  return undefined;
}

/** Takes a rollback order if it may count (signed when the spec says so), auditing it either way. */
function acceptRollback(ctx: RunContext, req: { by: string; reason: string; signature?: SignatureInput; via: 'signal' | 'update' }): string | undefined {
  let refusal = rollbackRefusal(ctx, req.by);
  const verdict = refusal ? { signed: req.signature !== undefined } : verifyDecision(ctx.spec, ctx.status, thisRelease(), 'rollback', req.by, req.reason, req.signature);
  refusal ??= 'refusal' in verdict ? verdict.refusal : undefined;
  const fingerprint = 'fingerprint' in verdict && verdict.fingerprint ? { fingerprint: verdict.fingerprint } : {};
  const nonce = !refusal && 'nonce' in verdict && verdict.nonce ? { nonce: verdict.nonce } : {};
  audit(ctx.status, { action: 'rollback', by: req.by, at: nowIso(), reason: req.reason, counted: !refusal, ...(refusal ? { refusal } : {}), signed: verdict.signed, ...fingerprint, ...nonce, via: req.via });
  if (refusal) return refusal;
  ctx.rollbackRequest ??= { by: req.by, reason: req.reason };
  return undefined;
}

function invalid(ctx: RunContext, name: string, error: string): void {
  log.warn('ignored an invalid message', { name, error });
  ctx.status.invalidMessages.push({ name, at: nowIso(), error });
  if (ctx.status.invalidMessages.length > 50) ctx.status.invalidMessages.shift();
}
