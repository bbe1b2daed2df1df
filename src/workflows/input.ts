// The release's input, validated at the top of every run: a run started by hand (Temporal UI, CLI)
// gets the same defaults and the same clear errors as one started by Slipway's client.
import { ApplicationFailure } from '@temporalio/workflow';
import { z } from 'zod';
import { formatSpecIssues, parseRecordedSpec, PipelineSpecSchema } from '../spec/schema.js';
import type { ReleaseInput } from './context.js';

const QueueName = z.string().min(1).max(200);

const carriedStatus = {
  workflowId: z.string(),
  stages: z.array(z.object({ stage: z.string(), startedAt: z.string() }).passthrough()),
  variants: z.array(z.object({ name: z.string() }).passthrough()),
  invalidMessages: z.array(z.unknown()),
};

/** What a continue-as-new run of a monitor carries (checked, so a hand-made one cannot loop). */
const MonitorCarriedSchema = z.object({
  status: z
    .object({
      ...carriedStatus,
      stage: z.string(),
      deployment: z.object({ version: z.string(), endpoint: z.string(), previousVersion: z.string().nullable() }).passthrough(),
      monitor: z.object({ elapsedMs: z.number(), durationMs: z.number(), samples: z.number(), breaches: z.number(), consecutiveBreaches: z.number() }).passthrough(),
    })
    .passthrough(),
  previousSnapshot: z.unknown(),
});

/** What a continue-as-new run of an approval wait carries: the status to wait on with, and where the wait stood. */
const ApprovalCarriedSchema = z.object({
  status: z
    .object({
      ...carriedStatus,
      stage: z.literal('awaiting-approval'),
      selectedVariant: z.string(),
      approval: z.object({ approvers: z.array(z.string()), escalated: z.boolean(), refused: z.array(z.unknown()), deadline: z.string().optional() }).passthrough(),
    })
    .passthrough(),
  previousSnapshot: z.null(),
  approvalWait: z.object({ round: z.number().int().min(0).max(1), reminded: z.boolean() }).strict(),
});

/** What a continue-as-new run of a canary's pause carries: the status (where it stands) and the people's orders. */
const CanaryCarriedSchema = z.object({
  status: z
    .object({
      ...carriedStatus,
      stage: z.literal('canary'),
      selectedVariant: z.string(),
      rollout: z
        .object({
          canaryVersion: z.string(),
          stableVersion: z.string().nullable(),
          phase: z.enum(['progressing', 'paused']),
          step: z.number().int().min(0),
          steps: z.number().int().min(0),
          weight: z.number().min(0).max(100),
          analysisRuns: z.array(z.unknown()),
          controls: z.array(z.unknown()),
        })
        .passthrough(),
    })
    .passthrough(),
  previousSnapshot: z.null(),
  canaryWait: z.object({ promotes: z.number().int().min(0), full: z.boolean(), paused: z.boolean(), abort: z.object({ by: z.string(), reason: z.string() }).strict().optional() }).strict(),
});

const ReleaseInputSchema = z
  .object({
    spec: z.unknown(),
    specDir: z.string().startsWith('/', 'expected the absolute directory that relative paths in the spec resolve against'),
    release: z.string().max(100).default(''),
    codeVersion: z.string().max(200).default('unknown'),
    queues: z.object({ serving: QueueName.optional(), gpu: QueueName.optional() }).strict().optional(),
    gpuTaskQueue: QueueName.optional(),
    // Checked below against the schema of the wait it continues, so that errors name the field.
    carried: z.unknown().optional(),
    startedBy: z.string().trim().min(1).max(200).optional(),
    // Below 50 a fresh run could be over the bound at once and continue as new forever.
    maxHistoryEvents: z.number().int().min(50).max(50_000).optional(),
  })
  .strict();

/**
 * The input with the spec's defaults applied. Throws a non-retryable `InvalidSpec` (the spec) or
 * `InvalidInput` (anything else) listing every field and rule, so a bad start fails the run at
 * once instead of failing workflow tasks forever.
 */
export function parseReleaseInput(raw: unknown): ReleaseInput {
  const input = ReleaseInputSchema.safeParse(raw);
  if (!input.success) throw invalidInput(formatSpecIssues(input.error));
  let carried: unknown;
  if (input.data.carried !== undefined) {
    const carriedWait = input.data.carried as { approvalWait?: unknown; canaryWait?: unknown } | null;
    const which = carriedWait?.approvalWait !== undefined ? ApprovalCarriedSchema : carriedWait?.canaryWait !== undefined ? CanaryCarriedSchema : MonitorCarriedSchema;
    const checked = which.safeParse(input.data.carried);
    if (!checked.success) throw invalidInput(formatSpecIssues(checked.error).map((i) => `carried.${i}`));
    carried = checked.data;
  }
  // The next run of a monitor chain carries a spec its release already ran with: read it as recorded.
  const spec = input.data.carried ? parseRecordedSpec(input.data.spec) : PipelineSpecSchema.safeParse(input.data.spec);
  if (!spec.success) {
    const issues = formatSpecIssues(spec.error).map((i) => `spec.${i}`);
    throw ApplicationFailure.create({ type: 'InvalidSpec', nonRetryable: true, message: `invalid spec: ${issues.join('; ')}`, details: [issues] });
  }
  return { ...input.data, carried, spec: spec.data } as ReleaseInput;
}

function invalidInput(issues: string[]): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `invalid release input: ${issues.join('; ')}`, details: [issues] });
}
