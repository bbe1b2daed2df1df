// The spec's `rollout` section, in Argo Rollouts' words: a strategy, and for a canary its steps
// (set_weight, pause, analysis) and the analysis defaults of Flagger and Argo Rollouts.
import { z } from 'zod';
import { parseCondition } from './condition.js';
import { TEMPLATE_NAMES } from './templates.js';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const Duration = z.string().regex(DURATION, 'expected a duration such as 30s, 10m, 2h or 3d');
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ms = (d: string) => {
  const m = DURATION.exec(d);
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : NaN;
};

const Condition = z.string().superRefine((text, ctx) => {
  try {
    parseCondition(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `expected a condition over result such as "result < 0.05": ${(err as Error).message}` });
  }
});

/** Quality probes: the same prompts to canary and stable, scored like the evaluation, compared by a z-test. */
const Quality = z
  .object({
    /** JSONL in the evaluation's format, relative to the spec file. */
    dataset: z.string().min(1),
    /** Prompts drawn per measurement (the draw differs per step and measurement, the same for both versions). */
    sample: z.number().int().min(1).max(10_000).default(50),
    /** One-sided confidence of "worse" and of "not worse". */
    confidence: z.number().gt(0.5).lt(1).default(0.95),
    /** Non-inferiority margin: the canary is "not worse" when its accuracy is surely above stable's minus this. */
    max_drop: z.number().min(0).max(1).default(0.05),
  })
  .strict();

/** One measurement in an analysis: a built-in template, a PromQL query, or quality probes, with Argo's limits. */
export const AnalysisMetric = z
  .object({
    quality: Quality.optional(),
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected lowercase letters, digits, ".", "_" or "-"'),
    template: z.enum(TEMPLATE_NAMES as [string, ...string[]]).optional(),
    /** PromQL; `{{canary}}`, `{{stable}}`, `{{canary_version}}`, `{{stable_version}}`, `{{deployment}}`, `{{window}}` are filled in. */
    query: z.string().min(1).optional(),
    success_condition: Condition.optional(),
    failure_condition: Condition.optional(),
    /** Time between measurements (default: rollout.analysis.interval). Each measurement covers the interval before it. */
    interval: Duration.optional(),
    count: z.number().int().min(1).max(1000).default(1),
    failure_limit: z.number().int().min(0).default(0),
    consecutive_error_limit: z.number().int().min(0).optional(),
    inconclusive_limit: z.number().int().min(0).default(0),
  })
  .strict()
  .refine((m) => [m.template, m.query, m.quality].filter((v) => v !== undefined).length === 1, { message: 'give exactly one of template, query or quality', path: ['query'] })
  .refine((m) => m.template !== undefined || m.quality !== undefined || m.success_condition !== undefined || m.failure_condition !== undefined, {
    message: 'a query needs success_condition or failure_condition',
    path: ['success_condition'],
  });
export type AnalysisMetric = z.infer<typeof AnalysisMetric>;

const Pause = z.union([Duration, z.object({ duration: Duration.optional() }).strict()]);

/** Exactly one of set_weight, pause, analysis per step. */
const Step = z
  .object({
    set_weight: z.number().int('expected a whole percent').min(0).max(100).optional(),
    /** `pause: 5m` or `pause: {duration: 5m}` waits; `pause: {}` waits for a person's promote. */
    pause: Pause.optional(),
    analysis: z.array(AnalysisMetric).min(1, 'list at least one metric').optional(),
  })
  .strict()
  .refine((s) => [s.set_weight, s.pause, s.analysis].filter((v) => v !== undefined).length === 1, { message: 'each step is exactly one of set_weight, pause or analysis' });
export type RolloutStep = z.infer<typeof Step>;

export const RolloutSection = z
  .object({
    strategy: z.enum(['all-at-once', 'canary']).default('all-at-once'),
    steps: z.array(Step).default([]),
    analysis: z
      .object({ interval: Duration.default('1m'), consecutive_error_limit: z.number().int().min(0).default(4) })
      .strict()
      .default({ interval: '1m', consecutive_error_limit: 4 }),
    /**
     * Argo's progressDeadlineSeconds: a set_weight or analysis step that makes no progress (a weight
     * applied, a measurement taken) for this long aborts the canary. Pauses do not count (see README).
     */
    progress_deadline: Duration.default('10m'),
    /** After the last step (100% canary, promoted): watch once more and roll back on failure. */
    bake: z.object({ analysis: z.array(AnalysisMetric).min(1) }).strict().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.strategy === 'canary' && !r.steps.some((s) => s.set_weight !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'a canary needs at least one set_weight step' });
    }
    if (r.strategy === 'all-at-once' && r.steps.length) ctx.addIssue({ code: 'custom', path: ['strategy'], message: 'steps need strategy: canary' });
    const deadline = ms(r.progress_deadline);
    const check = (metrics: AnalysisMetric[], at: (string | number)[]) =>
      metrics.forEach((m, j) => {
        // Each measurement restarts the deadline's clock, so only the wait for one must fit in it.
        const interval = m.interval ?? r.analysis.interval;
        if (ms(interval) >= deadline) ctx.addIssue({ code: 'custom', path: [...at, j, 'interval'], message: `interval ${interval} is not shorter than progress_deadline ${r.progress_deadline}: no measurement could come in time` });
      });
    r.steps.forEach((s, i) => s.analysis && check(s.analysis, ['steps', i, 'analysis']));
    if (r.bake) check(r.bake.analysis, ['bake', 'analysis']);
  });
export type RolloutSpec = z.infer<typeof RolloutSection>;

/** A pause step's wait in ms; null waits for a person. */
export function pauseMs(pause: NonNullable<RolloutStep['pause']>): number | null {
  const d = typeof pause === 'string' ? pause : pause.duration;
  return d === undefined ? null : ms(d);
}
