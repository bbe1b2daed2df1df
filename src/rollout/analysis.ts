// Judging an analysis the way Argo Rollouts does: each measurement is successful, failed,
// inconclusive or an error; the run fails past failure_limit (or consecutive_error_limit errors
// in a row) and asks a person past inconclusive_limit. Pure: the workflow runs it.
import { holds } from './condition.js';
import type { AnalysisMetric } from './spec.js';
import type { ProportionTest } from './stats.js';
import { TEMPLATES, type TemplateName } from './templates.js';

export type MeasurementPhase = 'successful' | 'failed' | 'inconclusive' | 'error';

export interface Measurement {
  at: string;
  /** null: the query answered nothing (no traffic) or it failed (see error). */
  value: number | null;
  phase: MeasurementPhase;
  error?: string;
}

export interface MetricRun {
  name: string;
  query: string;
  successCondition?: string;
  failureCondition?: string;
  measurements: Measurement[];
  taken: number;
  successes: number;
  failures: number;
  errors: number;
  consecutiveErrors: number;
  inconclusives: number;
  /** Quality probes: the counts so far (summed over measurements) and the test on them. */
  quality?: ProportionTest;
  /** running until count measurements are taken or a limit is passed. */
  phase: 'running' | 'successful' | 'failed' | 'error' | 'inconclusive';
  message?: string;
}

/** The metric's conditions, the template's defaults filled in. */
export function conditionsOf(m: AnalysisMetric): { success?: string; failure?: string } {
  const t = m.template ? TEMPLATES[m.template as TemplateName] : undefined;
  const success = m.success_condition ?? (m.failure_condition ? undefined : t?.success_condition);
  return { success, failure: m.failure_condition };
}

/** One measured value's phase: a failure condition that holds fails it; an unmet success condition fails it. */
export function phaseOf(value: number | null, error: string | undefined, cond: { success?: string; failure?: string }): MeasurementPhase {
  if (error !== undefined) return 'error';
  if (value === null || Number.isNaN(value)) return 'inconclusive';
  if (cond.failure && holds(cond.failure, value)) return 'failed';
  if (cond.success) return holds(cond.success, value) ? 'successful' : cond.failure ? 'inconclusive' : 'failed';
  return 'successful';
}

/** Adds a measurement to the run and settles its phase against the limits. */
export function record(run: MetricRun, m: Measurement, limits: { count: number; failureLimit: number; consecutiveErrorLimit: number; inconclusiveLimit: number }): void {
  run.measurements.push(m);
  if (run.measurements.length > 20) run.measurements.shift(); // history stays small; the counters keep the totals
  if (m.phase === 'error') {
    run.errors++;
    run.consecutiveErrors++;
  } else run.consecutiveErrors = 0;
  if (m.phase === 'failed') run.failures++;
  if (m.phase === 'inconclusive') run.inconclusives++;
  if (m.phase === 'successful') run.successes++;
  run.taken++;
  if (run.failures > limits.failureLimit) {
    run.phase = 'failed';
    run.message = `${run.name}: ${run.failures} failed measurement(s) (failure_limit ${limits.failureLimit}); last value ${m.value}`;
  } else if (run.consecutiveErrors > limits.consecutiveErrorLimit) {
    run.phase = 'error';
    run.message = `${run.name}: ${run.consecutiveErrors} query errors in a row (consecutive_error_limit ${limits.consecutiveErrorLimit}); last: ${m.error}`;
  } else if (run.inconclusives > limits.inconclusiveLimit) {
    run.phase = 'inconclusive';
    run.message = `${run.name}: ${run.inconclusives} inconclusive measurement(s) (no traffic?) past inconclusive_limit ${limits.inconclusiveLimit}`;
  } else if (run.taken >= limits.count) {
    // Errors within the limit do not fail the run, but a run needs one good measurement to pass.
    run.phase = run.successes > 0 ? 'successful' : 'inconclusive';
    if (run.phase === 'inconclusive') run.message = `${run.name}: no successful measurement in ${run.taken}`;
  }
}

/** A new run of one metric. */
export function newRun(name: string, query: string, cond: { success?: string; failure?: string }): MetricRun {
  return { name, query, successCondition: cond.success, failureCondition: cond.failure, measurements: [], taken: 0, successes: 0, failures: 0, errors: 0, consecutiveErrors: 0, inconclusives: 0, phase: 'running' };
}
