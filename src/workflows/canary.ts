// The canary rollout stage: the candidate takes traffic in the spec's steps (set_weight, pause,
// analysis) beside the live version; an analysis that fails aborts it in one router update, an
// inconclusive one waits for a person. People promote, abort, pause and resume at any time.
import { ActivityFailure, allHandlersFinished, ApplicationFailure, condition, continueAsNew, patched } from '@temporalio/workflow';
import { conditionsOf, newRun, phaseOf, record, type MetricRun } from '../rollout/analysis.js';
import { pauseMs, type AnalysisMetric, type RolloutStep } from '../rollout/spec.js';
import { compareAccuracy } from '../rollout/stats.js';
import { TEMPLATES, type TemplateName } from '../rollout/templates.js';
import { durationMs } from '../spec/schema.js';
import { enterStage, notify, nowIso, resolvePath, type ReleaseInput, type RunContext } from './context.js';
import { historyTooLong } from './history-bound.js';
import { refreshDetails } from './metadata.js';
import type { releasePipeline } from './release-pipeline.js';
import { withinDeadline } from './progress-deadline.js';
import type { AnalysisRun, RolloutStatus } from './status.js';

/** What people asked for; the handlers only record it and the stage acts on it. */
export interface RolloutControl {
  /** Each promote moves past the current step; counted so that two promotes skip two steps. */
  promotes: number;
  full: boolean;
  paused: boolean;
  abort?: { by: string; reason: string };
}

export const newRolloutControl = (): RolloutControl => ({ promotes: 0, full: false, paused: false });

export type CanaryOutcome = 'promoted' | 'aborted' | 'skipped';

/**
 * Runs the rollout's steps for `canary`. Returns 'promoted' when the steps are done (or a person
 * promoted it fully): the caller then makes it the live version. 'skipped' when nothing is live
 * to compare with (a first release goes all at once).
 */
export async function runCanary(ctx: RunContext, canary: string, resumed = false): Promise<CanaryOutcome> {
  const { spec, acts, status } = ctx;
  const ctl = ctx.rolloutControl;
  let r: RolloutStatus;
  if (resumed && status.rollout) {
    r = status.rollout;
    refreshDetails(ctx);
  } else {
    const current = await acts.serving.describeDeployment({ target: spec.deploy.target, deploymentName: spec.name });
    if (!current.live || current.live === canary) {
      status.rollout = { strategy: 'canary', canaryVersion: canary, stableVersion: current.live, phase: 'skipped', step: 0, steps: spec.rollout.steps.length, weight: 100, analysisRuns: [], controls: [], note: 'no live version to compare with: deployed all at once' };
      return 'skipped';
    }
    r = { strategy: 'canary', canaryVersion: canary, stableVersion: current.live, phase: 'progressing', step: 0, steps: spec.rollout.steps.length, weight: 0, analysisRuns: [], controls: [] };
    status.rollout = r;
    enterStage(ctx, 'canary');
  }
  const steps = spec.rollout.steps;
  // Runs recorded before the deadline was enforced waited on their steps without a clock.
  const deadlineMs = patched('canary-progress-deadline') ? durationMs(spec.rollout.progress_deadline) : null;
  // Runs recorded before this waited in one run however many messages came: now a pause that a
  // flood makes too long continues as new (see continueCanary).
  const bounded = resumed || patched('canary-continue-as-new');
  const due = () => bounded && historyTooLong(ctx.input.maxHistoryEvents);
  const personPaused = () => ctl.paused && !ctl.full && ctl.abort === undefined;

  // A run that continued as new during an inconclusive analysis's pause waits for the person still.
  if (resumed && r.pause?.reason.startsWith('inconclusive')) {
    const promotesBefore = ctl.promotes;
    await pauseUntil(ctx, () => ctl.promotes > promotesBefore || ctl.full || ctl.abort !== undefined, null, due);
    r.pause = undefined;
    r.phase = 'progressing';
    if (ctl.abort) return abortCanary(ctx, r);
    r.step++;
  }
  for (; r.step < steps.length; r.step++) {
    await holdWhilePersonPaused(ctx, personPaused, due);
    if (ctl.abort) return abortCanary(ctx, r);
    if (ctl.full) break;
    const step = steps[r.step]!;
    const promotesBefore = ctl.promotes;
    const moveOn = () => ctl.promotes > promotesBefore || ctl.full || ctl.abort !== undefined;
    if (step.set_weight !== undefined) {
      const weight = step.set_weight;
      await onDeadline(ctx, r, deadlineMs, step, () => setWeight(ctx, r, weight));
    } else if (step.pause !== undefined) {
      const ms = pauseMs(step.pause);
      // A pause step that continued as new goes on where it stood: same reason, same end.
      if (r.phase !== 'paused' || !r.pause) r.pause = { reason: ms === null ? 'waiting for a person to promote' : `pause for ${ms / 1000}s`, since: nowIso() };
      r.phase = 'paused';
      await pauseUntil(ctx, moveOn, ms === null ? null : Date.parse(r.pause.since) + ms, due);
      r.pause = undefined;
      r.phase = 'progressing';
    } else if (step.analysis) {
      const metrics = step.analysis;
      // A person's pause during the analysis may continue as new too: the analysis then starts again.
      const run = await onDeadline(ctx, r, deadlineMs, step, () => runAnalysis(ctx, r, r.step, metrics, () => moveOn() || (personPaused() && due())));
      // Only an analysis cut short by that (skipped): one that failed meanwhile aborts below.
      if (run?.phase === 'skipped' && !moveOn() && personPaused() && due()) {
        run.message = 'paused by a person and continued as new: the analysis starts again when resumed';
        await continueCanary(ctx);
      }
      // No run: the deadline passed and ordered the abort, acted on below.
      if (run?.phase === 'failed') {
        ctl.abort ??= { by: 'system:analysis', reason: run.message ?? 'analysis failed' };
      } else if (run?.phase === 'inconclusive') {
        // No traffic, or no clear answer: a person decides, the rollout never guesses.
        r.pause = { reason: `inconclusive analysis: ${run.message ?? ''}`, since: nowIso() };
        r.phase = 'paused';
        await notify(ctx, 'rollout-paused', `Release ${status.workflowId}: canary ${canary} paused, ${r.pause.reason}. Promote or abort it.`);
        await pauseUntil(ctx, moveOn, null, due);
        r.pause = undefined;
        r.phase = 'progressing';
      }
    }
    if (ctl.abort) return abortCanary(ctx, r);
  }
  // A person's pause holds the last step too: the canary is not made live while paused.
  await holdWhilePersonPaused(ctx, personPaused, due);
  if (ctl.abort) return abortCanary(ctx, r);
  r.phase = 'promoting';
  return 'promoted';
}

/** Waits out a person's pause (none: returns at once), continuing as new if the history grows too long first. */
async function holdWhilePersonPaused(ctx: RunContext, personPaused: () => boolean, due: () => boolean): Promise<void> {
  await condition(() => !personPaused() || due());
  if (personPaused()) await continueCanary(ctx);
}

/**
 * Waits until `moveOn` or workflow time `untilMs` (null: no end). If the history grows too long
 * first (a flood of messages), the run continues as new and the next one waits on.
 */
async function pauseUntil(ctx: RunContext, moveOn: () => boolean, untilMs: number | null, due: () => boolean): Promise<void> {
  const left = untilMs === null ? undefined : untilMs - new Date().getTime();
  if (left === undefined) await condition(() => moveOn() || due());
  else if (left > 0) await condition(() => moveOn() || due(), left);
  const timeLeft = untilMs === null || untilMs > new Date().getTime();
  if (!moveOn() && timeLeft && due()) await continueCanary(ctx);
}

/** The canary goes on in a new run of the chain, carrying the status (where it stands) and the people's orders. */
async function continueCanary(ctx: RunContext): Promise<never> {
  // Handlers first: an update still running would be lost with this run.
  await condition(allHandlersFinished);
  const r = ctx.status.rollout!;
  r.continuedAsNew = (r.continuedAsNew ?? 0) + 1;
  const next: ReleaseInput = { ...ctx.input, carried: { status: ctx.status, previousSnapshot: null, canaryWait: { ...ctx.rolloutControl } } };
  return continueAsNew<typeof releasePipeline>(next);
}

/**
 * Runs a step that takes weight or measures under the progress deadline (when this run has one):
 * the clock restarts at each measurement taken and stops while a person has paused the rollout.
 * Past the deadline the step is cancelled and the canary aborted; undefined comes back.
 */
async function onDeadline<T>(ctx: RunContext, r: RolloutStatus, deadlineMs: number | null, step: RolloutStep, run: () => Promise<T>): Promise<T | undefined> {
  if (deadlineMs === null) return run();
  const taken = () => r.analysisRuns.reduce((n, a) => n + a.metrics.reduce((k, m) => k + m.taken, 0), 0);
  const out = await withinDeadline(deadlineMs, { paused: () => ctx.rolloutControl.paused, progress: taken }, run);
  if (out.done) return out.value;
  const what = step.set_weight !== undefined ? `set_weight ${step.set_weight}` : 'analysis';
  // Numbered from 1, as `slipway rollout status` shows steps.
  const reason = `step ${r.step + 1}/${r.steps} (${what}) made no progress within progress_deadline ${ctx.spec.rollout.progress_deadline}`;
  const stuck = r.analysisRuns.at(-1);
  if (step.analysis && stuck?.phase === 'running') Object.assign(stuck, { phase: 'failed', message: reason, endedAt: nowIso() });
  ctx.rolloutControl.abort ??= { by: 'system:progress-deadline', reason };
  return undefined;
}

async function setWeight(ctx: RunContext, r: RolloutStatus, weight: number): Promise<void> {
  const { spec } = ctx;
  try {
    const result = await ctx.acts.serving.setCanaryWeight({ target: spec.deploy.target, deploymentName: spec.name, version: r.canaryVersion, weight, port: spec.deploy.port });
    r.weight = result.weights[r.canaryVersion] ?? 0;
  } catch (err) {
    if (!abortIfCanaryGone(ctx, r, err)) throw err;
  }
}

/**
 * When `err` says the canary's server no longer runs (it crashed or was killed during the rollout),
 * orders the abort and returns true: the rollout cannot go on, and ends aborted with all traffic on
 * stable rather than failed. Runs recorded before this failed the release.
 */
export function abortIfCanaryGone(ctx: RunContext, r: RolloutStatus, err: unknown): boolean {
  const gone = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'VersionNotDeployed';
  if (!gone || !patched('canary-server-gone-aborts')) return false;
  ctx.rolloutControl.abort ??= { by: 'system:canary-server', reason: `the canary's server (version ${r.canaryVersion}) is no longer running: it exited or was killed` };
  return true;
}

/** All traffic back to stable in one router update, then the canary's server goes. */
export async function abortCanary(ctx: RunContext, r: RolloutStatus): Promise<'aborted'> {
  const { spec, acts, status } = ctx;
  const abort = ctx.rolloutControl.abort ?? { by: 'system', reason: 'aborted' };
  await setWeight(ctx, r, 0);
  r.phase = 'aborted';
  r.abort = { ...abort, at: nowIso() };
  await acts.serving.stopCandidate({ target: spec.deploy.target, deploymentName: spec.name, version: r.canaryVersion });
  if (status.mlflow) {
    await acts.tracking.mlflowSetTags({ mlflowRunId: status.mlflow.runId, tags: { 'slipway.rollout.aborted_by': abort.by, 'slipway.rollout.abort_reason': abort.reason.slice(0, 500) } });
  }
  enterStage(ctx, 'aborted');
  await notify(ctx, 'rollout-aborted', `Release ${status.workflowId}: canary ${r.canaryVersion} aborted by ${abort.by}: ${abort.reason}. All traffic is on ${r.stableVersion}.`);
  return 'aborted';
}

/**
 * Measures every metric each interval until its count is taken or a limit is passed. Each
 * measurement covers the interval before it, so the first comes one interval after the start.
 */
export async function runAnalysis(ctx: RunContext, r: RolloutStatus, step: number | 'bake', metrics: AnalysisMetric[], moveOn: () => boolean): Promise<AnalysisRun> {
  const { spec, acts } = ctx;
  const ctl = ctx.rolloutControl;
  const defaults = spec.rollout.analysis;
  const run: AnalysisRun = { step, phase: 'running', startedAt: nowIso(), metrics: [] };
  r.analysisRuns.push(run);
  const settled = () => run.metrics.some((m) => m.phase === 'failed' || m.phase === 'error');
  await Promise.all(
    metrics.map(async (m) => {
      const query = m.quality ? `quality probes from ${m.quality.dataset}` : (m.query ?? TEMPLATES[m.template as TemplateName].query);
      const metricRun: MetricRun = newRun(m.name, query, conditionsOf(m));
      run.metrics.push(metricRun);
      const interval = durationMs(m.interval ?? defaults.interval);
      const limits = { count: m.count, failureLimit: m.failure_limit, consecutiveErrorLimit: m.consecutive_error_limit ?? defaults.consecutive_error_limit, inconclusiveLimit: m.inconclusive_limit };
      while (metricRun.phase === 'running') {
        if (await condition(() => moveOn() || settled(), interval)) return;
        await condition(() => !ctl.paused || moveOn());
        if (moveOn()) return;
        if (m.quality) {
          await probeOnce(ctx, r, step, m, metricRun, limits);
          continue;
        }
        const res = await acts.measure.measureMetric({
          query,
          deploymentName: spec.name,
          canaryVersion: r.canaryVersion,
          stableVersion: r.stableVersion ?? r.canaryVersion,
          window: `${Math.max(1, Math.round(interval / 1000))}s`,
        });
        record(metricRun, { at: nowIso(), value: res.value, phase: phaseOf(res.value, res.error, { success: metricRun.successCondition, failure: metricRun.failureCondition }), error: res.error }, limits);
      }
    }),
  );
  const phases = run.metrics.map((m) => m.phase);
  const failed = run.metrics.find((m) => m.phase === 'failed' || m.phase === 'error');
  run.phase = failed ? 'failed' : phases.includes('inconclusive') ? 'inconclusive' : phases.includes('running') ? 'skipped' : 'successful';
  run.message = failed?.message ?? run.metrics.find((m) => m.phase === 'inconclusive')?.message;
  run.endedAt = nowIso();
  return run;
}

/**
 * One round of quality probes. Counts add up over the run's measurements, and the test is on the
 * totals: worse beyond chance fails, surely not worse passes, anything between is inconclusive.
 */
async function probeOnce(ctx: RunContext, r: RolloutStatus, step: number | 'bake', m: AnalysisMetric, run: MetricRun, limits: Parameters<typeof record>[2]): Promise<void> {
  const q = m.quality!;
  const res = await ctx.acts.measure.probeQuality({
    target: ctx.spec.deploy.target,
    deploymentName: ctx.spec.name,
    canaryVersion: r.canaryVersion,
    stableVersion: r.stableVersion ?? r.canaryVersion,
    dataset: resolvePath(ctx.input.specDir, q.dataset),
    sample: q.sample,
    seed: `${ctx.status.workflowId}:${step}:${m.name}:${run.taken}`,
  });
  if (res.error) return record(run, { at: nowIso(), value: null, phase: 'error', error: res.error }, limits);
  const before = run.quality;
  const canary = { correct: (before?.canary.correct ?? 0) + res.canary.correct, n: (before?.canary.n ?? 0) + res.canary.n };
  const stable = { correct: (before?.stable.correct ?? 0) + res.stable.correct, n: (before?.stable.n ?? 0) + res.stable.n };
  run.quality = compareAccuracy(canary, stable, q.confidence, q.max_drop);
  const phase = run.quality.verdict === 'worse' ? 'failed' : run.quality.verdict === 'not-worse' ? 'successful' : 'inconclusive';
  record(run, { at: nowIso(), value: Number.isFinite(run.quality.z) ? run.quality.z : run.quality.z > 0 ? 1e9 : -1e9, phase }, limits);
  if (run.phase === 'failed') {
    const t = run.quality;
    run.message = `${m.name}: canary accuracy ${t.canary.accuracy.toFixed(3)} (${t.canary.correct}/${t.canary.n}) is worse than stable ${t.stable.accuracy.toFixed(3)} (${t.stable.correct}/${t.stable.n}) beyond chance: z = ${t.z.toFixed(2)} < -${t.zCritical.toFixed(2)}`;
  }
  if (ctx.status.mlflow) {
    const t = run.quality;
    const timestamp = new Date().getTime();
    const key = `rollout.${step === 'bake' ? 'bake' : `step${step}`}.${m.name}`;
    const metrics = [
      { key: `${key}.canary_accuracy`, value: t.canary.accuracy },
      { key: `${key}.stable_accuracy`, value: t.stable.accuracy },
      { key: `${key}.z`, value: Number.isFinite(t.z) ? t.z : t.z > 0 ? 1e9 : -1e9 },
    ].map((x) => ({ ...x, step: run.taken, timestamp }));
    await ctx.acts.tracking.mlflowLogMetrics({ mlflowRunId: ctx.status.mlflow.runId, metrics });
  }
}
