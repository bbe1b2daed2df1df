// Signals, updates and the status query of the release pipeline, beside the workflow that handles them.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { SignatureSchema } from '../approvals/statement.js';
import { cappedString, MAX_NAME_CHARS, MAX_REASON_CHARS } from './message-limits.js';
import type { PipelineStatus } from './status.js';

/** At most MAX_REASON_CHARS: a longer one is refused with its length, never cut and kept. */
const Reason = cappedString(MAX_REASON_CHARS).default('');

/**
 * The approval payload. Approvers send it from the Web UI's "Send Signal" as JSON, e.g.
 * `{"approver": "alice", "reason": "eval looks good"}` (signed: the payload `slipway sign approve`
 * prints), or from `slipway approve`.
 */
export const DecisionInputSchema = z
  .object({
    approver: cappedString(MAX_NAME_CHARS).trim().min(1, 'approver is required: who is deciding'),
    reason: Reason,
    /** The signed statement (`slipway approve --key`, or `slipway sign approve` for the UI). */
    signature: SignatureSchema.optional(),
  })
  .strict();
export type DecisionInput = z.input<typeof DecisionInputSchema>;

export const RollbackInputSchema = z
  .object({
    requestedBy: cappedString(MAX_NAME_CHARS).trim().min(1, 'requestedBy is required: who orders the rollback'),
    reason: Reason,
    signature: SignatureSchema.optional(),
  })
  .strict();
export type RollbackInput = z.input<typeof RollbackInputSchema>;

/** For the Web UI (fire-and-forget): invalid or unauthorised payloads are recorded and ignored. */
export const approveSignal = defineSignal<[DecisionInput]>('approve');
export const rejectSignal = defineSignal<[DecisionInput]>('reject');
export const rollbackSignal = defineSignal<[RollbackInput]>('rollback');

/** For the CLI: the validator refuses bad or unauthorised requests with a reason, before history. */
export const approveUpdate = defineUpdate<PipelineStatus, [DecisionInput]>('approveRelease');
export const rejectUpdate = defineUpdate<PipelineStatus, [DecisionInput]>('rejectRelease');
export const rollbackUpdate = defineUpdate<PipelineStatus, [RollbackInput]>('rollbackRelease');

export const statusQuery = defineQuery<PipelineStatus>('status');

/** From a newer release of the same pipeline that passed its gate: this one stops waiting for approval. */
// `by` is the newer release's workflow id: Temporal's own limit for one is 1000 characters.
export const SupersedeInputSchema = z.object({ by: cappedString(1000).min(1), reason: Reason }).strict();
export type SupersedeInput = z.input<typeof SupersedeInputSchema>;
export const supersedeSignal = defineSignal<[SupersedeInput]>('supersede');

/** A person's order to a canary rollout: `{"by": "alice", "reason": "looks fine", "full": true}`. */
export const RolloutOrderSchema = z
  .object({
    by: cappedString(MAX_NAME_CHARS).trim().min(1, 'by is required: who gives the order'),
    reason: Reason,
    /** promote only: skip every remaining step and analysis. */
    full: z.boolean().default(false),
  })
  .strict();
export type RolloutOrder = z.input<typeof RolloutOrderSchema>;
export const ROLLOUT_ACTIONS = ['promote', 'abort', 'pause', 'resume'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** Signals for the Web UI (`promote`, `abort`, `pause`, `resume`) and updates for the CLI (`promoteRollout`, ...). */
export const rolloutSignals = Object.fromEntries(ROLLOUT_ACTIONS.map((a) => [a, defineSignal<[RolloutOrder]>(a)])) as Record<RolloutAction, ReturnType<typeof defineSignal<[RolloutOrder]>>>;
export const rolloutUpdates = Object.fromEntries(ROLLOUT_ACTIONS.map((a) => [a, defineUpdate<PipelineStatus, [RolloutOrder]>(`${a}Rollout`)])) as Record<
  RolloutAction,
  ReturnType<typeof defineUpdate<PipelineStatus, [RolloutOrder]>>
>;

/** Every signal the release takes: any other name is recorded as an unknown signal. */
export const SIGNAL_NAMES = [approveSignal, rejectSignal, rollbackSignal, supersedeSignal, ...Object.values(rolloutSignals)].map((s) => s.name);
