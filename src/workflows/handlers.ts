// Message handlers of the release pipeline: the status query, approvals and rollback orders.
// Signals (Web UI) never throw: a bad payload is recorded and ignored. Updates (CLI) validate first.
import { ApplicationFailure, condition, log, patched, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { SignatureInput } from '../approvals/statement.js';
import { notWaitingForDecision, recordDecision, rollbackNotAllowed } from './approval.js';
import { audit, thisRelease, verifyDecision } from './audit.js';
import { nowIso, type RunContext } from './context.js';
import { clip, describeIssues, oversizeRefusal } from './message-limits.js';
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
  SIGNAL_NAMES,
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
  recordUnknownSignals(ctx);

  const onDecision = (decision: Decision['decision']) => (raw: unknown) => {
    const payload = signalPayload(ctx, decision === 'approved' ? 'approve' : 'reject', DecisionInputSchema, raw);
    if (!payload) return;
    recordDecision(ctx, decision, { by: payload.approver, reason: payload.reason, signature: payload.signature, via: 'signal' });
    refreshDetails(ctx);
  };
  setHandler(approveSignal, onDecision('approved'));
  setHandler(rejectSignal, onDecision('rejected'));

  // A malformed update is refused before history. A refused decision is accepted so that it is kept
  // in `approval.refused` (the audit trail), then fails with the reason.
  const decide = (decision: Decision['decision']) => (raw: unknown) => {
    const payload = updatePayload(DecisionInputSchema, raw);
    const refusal = recordDecision(ctx, decision, { by: payload.approver, reason: payload.reason, signature: payload.signature, via: 'update' });
    if (refusal) throw ApplicationFailure.create({ type: 'DecisionRefused', nonRetryable: true, message: refusal });
    return ctx.status;
  };
  const validateDecision = (raw: unknown) => {
    const payload = updatePayload(DecisionInputSchema, raw);
    // Before the gate there is no approval to record a refusal in: refuse outright.
    if (!ctx.status.approval) throw new Error(notWaitingForDecision(ctx) ?? `${payload.approver} cannot decide now`);
  };
  setHandler(approveUpdate, decide('approved'), { validator: validateDecision });
  setHandler(rejectUpdate, decide('rejected'), { validator: validateDecision });

  setHandler(supersedeSignal, (raw) => {
    const payload = signalPayload(ctx, 'supersede', SupersedeInputSchema, raw);
    if (!payload) return;
    // Only a newer release of the same model sends it (supersedeWaitingReleases), never a person.
    if (!payload.by.startsWith(`release:${ctx.spec.model.name}:`)) return invalid(ctx, 'supersede', `${payload.by} is not a release of ${ctx.spec.model.name}`);
    const notWaiting = notWaitingForDecision(ctx);
    if (notWaiting) return invalid(ctx, 'supersede', notWaiting);
    if (ctx.status.approval) ctx.status.approval.decision = { decision: 'superseded', by: payload.by, at: nowIso(), reason: payload.reason };
  });

  setHandler(rollbackSignal, (raw) => {
    const payload = signalPayload(ctx, 'rollback', RollbackInputSchema, raw);
    if (!payload) return;
    const refusal = acceptRollback(ctx, { by: payload.requestedBy, reason: payload.reason, signature: payload.signature, via: 'signal' });
    if (refusal) return invalid(ctx, 'rollback', refusal);
  });
  setHandler(
    rollbackUpdate,
    async (raw) => {
      const payload = updatePayload(RollbackInputSchema, raw);
      // The validator let it through, but a signature's nonce is only spent here, in history.
      const refusal = acceptRollback(ctx, { by: payload.requestedBy, reason: payload.reason, signature: payload.signature, via: 'update' });
      if (refusal) throw ApplicationFailure.create({ type: 'DecisionRefused', nonRetryable: true, message: refusal });
      await condition(() => ctx.status.stage === 'rolled-back' || ctx.status.stage === 'failed');
      return ctx.status;
    },
    {
      validator: (raw) => {
        const payload = updatePayload(RollbackInputSchema, raw);
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
      const payload = signalPayload(ctx, action, RolloutOrderSchema, raw);
      if (!payload) return;
      const refusal = rolloutRefusal(ctx, action, payload.by);
      if (refusal) return invalid(ctx, action, refusal);
      applyRolloutOrder(ctx, action, payload);
    });
    setHandler(
      rolloutUpdates[action],
      (raw) => {
        applyRolloutOrder(ctx, action, updatePayload(RolloutOrderSchema, raw));
        return ctx.status;
      },
      {
        validator: (raw) => {
          const refusal = rolloutRefusal(ctx, action, updatePayload(RolloutOrderSchema, raw).by);
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
  const r = ctx.status.rollout;
  if (!r) return;
  r.controls.push({ action: order.full ? 'promote --full' : action, by: order.by, at: nowIso(), reason: order.reason || undefined });
  // Bounded like the audit trail: a flood of valid pause/resume orders must not grow the status.
  if (r.controls.length > MAX_CONTROLS) r.controls.shift();
  r.controlCount = (r.controlCount ?? r.controls.length - 1) + 1;
}

/** Rollout orders kept in the status (the newest); `controlCount` counts them all. */
const MAX_CONTROLS = 200;

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

/** A signal's payload, or undefined after recording why it is refused (its size first, then its fields). */
function signalPayload<S extends z.ZodType>(ctx: RunContext, name: string, schema: S, raw: unknown): z.output<S> | undefined {
  const tooLarge = oversizeRefusal(raw);
  if (tooLarge) return invalid(ctx, name, tooLarge);
  const payload = schema.safeParse(raw);
  if (!payload.success) return invalid(ctx, name, describeIssues(payload.error));
  return payload.data;
}

/** An update's payload, or a typed `InvalidMessage` failure: thrown in a validator, it keeps the update out of history. */
function updatePayload<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const tooLarge = oversizeRefusal(raw);
  if (tooLarge) throw ApplicationFailure.create({ type: 'InvalidMessage', nonRetryable: true, message: tooLarge });
  const payload = schema.safeParse(raw);
  if (!payload.success) throw ApplicationFailure.create({ type: 'InvalidMessage', nonRetryable: true, message: describeIssues(payload.error) });
  return payload.data;
}

/**
 * A signal name the release does not take (a typo such as `aprove`) is recorded like an invalid
 * payload instead of being buffered unseen. Runs recorded before this buffered them: replay the same.
 */
function recordUnknownSignals(ctx: RunContext): void {
  if (!patched('record-unknown-signals')) return;
  setDefaultSignalHandler((name: string, ...args: unknown[]) => {
    const size = JSON.stringify(args).length;
    invalid(ctx, name, `unknown signal (${size} characters of input ignored): this release takes ${SIGNAL_NAMES.join(', ')}`);
  });
}

/** Kept short and bounded (the status is the query answer and what continue-as-new carries). */
function invalid(ctx: RunContext, name: string, error: string): undefined {
  const entry = { name: clip(name, 100), at: nowIso(), error: clip(error) };
  log.warn('ignored an invalid message', entry);
  ctx.status.invalidMessages.push(entry);
  if (ctx.status.invalidMessages.length > 50) ctx.status.invalidMessages.shift();
  ctx.status.invalidMessageCount = (ctx.status.invalidMessageCount ?? 0) + 1;
  return undefined;
}
