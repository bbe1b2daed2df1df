// The pure parts of a canary analysis: conditions, the rollout spec's errors, and Argo's limits.
import { describe, expect, it } from 'vitest';
import { newRun, phaseOf, record } from '../../src/rollout/analysis.js';
import { holds, parseCondition } from '../../src/rollout/condition.js';
import { renderQuery, TEMPLATES } from '../../src/rollout/templates.js';
import { formatSpecIssues, PipelineSpecSchema } from '../../src/spec/schema.js';

const base = { name: 'p', model: { name: 'm' }, train: { command: ['t'] }, serve: { command: ['s'] }, evaluate: { dataset: 'e.jsonl' } };
const issues = (rollout: unknown) => {
  const parsed = PipelineSpecSchema.safeParse({ ...base, rollout });
  return parsed.success ? [] : formatSpecIssues(parsed.error);
};

describe('conditions over result', () => {
  it('compare, combine and group without eval', () => {
    expect(holds('result < 0.05', 0.01)).toBe(true);
    expect(holds('result < 0.05', 0.05)).toBe(false);
    expect(holds('result >= 0.9 && result <= 1.1', 1)).toBe(true);
    expect(holds('(result > 2 || result < -1) && result != 5', -3)).toBe(true);
    expect(holds('0.5 <= result', 0.7)).toBe(true);
    expect(holds('result == 1e-3', 0.001)).toBe(true);
  });
  it('refuse anything else with a reason', () => {
    expect(() => parseCondition('process.exit(1)')).toThrow(/unexpected "process/);
    expect(() => parseCondition('result <')).toThrow(/unexpected end/);
    expect(() => parseCondition('1 < 2')).toThrow(/never looks at result/);
    expect(() => parseCondition('(result < 1')).toThrow(/missing "\)"/);
    expect(() => parseCondition('result < 1 result')).toThrow(/after a complete condition/);
  });
});

describe('rollout spec', () => {
  it('defaults to all at once, with the analysis defaults of Flagger and Argo Rollouts', () => {
    expect(PipelineSpecSchema.parse(base).rollout).toEqual({ strategy: 'all-at-once', steps: [], analysis: { interval: '1m', consecutive_error_limit: 4 }, progress_deadline: '10m' });
  });
  it('takes Argo Rollouts steps', () => {
    const steps = [{ set_weight: 10 }, { pause: '5m' }, { analysis: [{ name: 'errors', template: 'error-rate' }] }, { set_weight: 50 }, { pause: {} }];
    expect(issues({ strategy: 'canary', steps })).toEqual([]);
  });
  it('names the field and the rule of each mistake', () => {
    expect(issues({ strategy: 'canary', steps: [{ set_weight: 10, pause: {} }] })).toEqual(['rollout.steps.0: each step is exactly one of set_weight, pause or analysis']);
    expect(issues({ strategy: 'canary', steps: [{ set_weight: 150 }] })).toEqual(['rollout.steps.0.set_weight: Too big: expected number to be <=100']);
    expect(issues({ strategy: 'canary', steps: [{ pause: {} }] })).toEqual(['rollout.steps: a canary needs at least one set_weight step']);
    expect(issues({ steps: [{ set_weight: 10 }] })).toEqual(['rollout.strategy: steps need strategy: canary']);
    expect(issues({ strategy: 'canary', steps: [{ set_weight: 5 }, { analysis: [{ name: 'q', query: 'up' }] }] })).toEqual(['rollout.steps.1.analysis.0.success_condition: a query needs success_condition or failure_condition']);
    expect(issues({ strategy: 'canary', steps: [{ set_weight: 5 }, { analysis: [{ name: 'q', query: 'up', success_condition: 'result <' }] }] })[0]).toMatch(
      /^rollout\.steps\.1\.analysis\.0\.success_condition: expected a condition over result such as "result < 0.05": unexpected end/,
    );
    // Measurements restart the progress deadline's clock: many of them fit, one slower than it does not.
    expect(issues({ strategy: 'canary', steps: [{ set_weight: 5 }, { analysis: [{ name: 'e', template: 'error-rate', count: 20 }] }] })).toEqual([]);
    expect(issues({ strategy: 'canary', progress_deadline: '5m', steps: [{ set_weight: 5 }, { analysis: [{ name: 'e', template: 'error-rate', interval: '5m' }] }] })).toEqual([
      'rollout.steps.1.analysis.0.interval: interval 5m is not shorter than progress_deadline 5m: no measurement could come in time',
    ]);
    expect(issues({ strategy: 'canary', progress_deadline: '30s', steps: [{ set_weight: 5 }], bake: { analysis: [{ name: 'e', template: 'error-rate' }] } })).toEqual([
      'rollout.bake.analysis.0.interval: interval 1m is not shorter than progress_deadline 30s: no measurement could come in time',
    ]);
  });
});

describe('analysis runs', () => {
  const limits = { count: 3, failureLimit: 1, consecutiveErrorLimit: 1, inconclusiveLimit: 0 };
  const at = '2026-01-01T00:00:00Z';
  it('fail past failure_limit, and name the measurement', () => {
    const run = newRun('errors', 'q', { success: 'result <= 0.01' });
    for (const v of [0.2, 0.3]) record(run, { at, value: v, phase: phaseOf(v, undefined, { success: 'result <= 0.01' }) }, limits);
    expect(run).toMatchObject({ phase: 'failed', failures: 2, message: 'errors: 2 failed measurement(s) (failure_limit 1); last value 0.3' });
  });
  it('count query errors in a row against consecutive_error_limit; a good answer resets them', () => {
    const run = newRun('errors', 'q', { success: 'result <= 0.01' });
    record(run, { at, value: null, phase: 'error', error: 'down' }, limits);
    record(run, { at, value: 0, phase: 'successful' }, limits);
    record(run, { at, value: null, phase: 'error', error: 'down' }, limits);
    expect(run.phase).toBe('successful'); // three measurements, one error limit never passed
    const bad = newRun('errors', 'q', {});
    record(bad, { at, value: null, phase: 'error', error: 'down' }, limits);
    record(bad, { at, value: null, phase: 'error', error: 'down' }, limits);
    expect(bad).toMatchObject({ phase: 'error', consecutiveErrors: 2 });
  });
  it('no traffic is inconclusive, never a pass', () => {
    expect(phaseOf(null, undefined, { success: 'result < 1' })).toBe('inconclusive');
    const run = newRun('errors', 'q', {});
    record(run, { at, value: null, phase: 'inconclusive' }, limits);
    expect(run.phase).toBe('inconclusive');
  });
  it('a value between the success and the failure condition is inconclusive', () => {
    expect(phaseOf(0.5, undefined, { success: 'result < 0.1', failure: 'result > 0.9' })).toBe('inconclusive');
    expect(phaseOf(0.95, undefined, { success: 'result < 0.1', failure: 'result > 0.9' })).toBe('failed');
  });
  it('templates fill in the versions\' Traefik services', () => {
    const q = renderQuery(TEMPLATES['error-rate'].query, { canary: 'version-c@file', stable: 'version-s@file', canary_version: 'c', stable_version: 's', deployment: 'd', window: '60s' });
    expect(q).toContain('traefik_service_requests_total{service="version-c@file",code=~"5.."}[60s]');
    expect(q).toContain('service="version-s@file"');
    expect(q).not.toContain('{{');
  });
});

describe('accuracy: canary against stable', () => {
  it('30% wrong on 20 probes is worse beyond chance; equal is not worse; a small sample of equals is undecided', async () => {
    const { compareAccuracy, normalQuantile } = await import('../../src/rollout/stats.js');
    expect(normalQuantile(0.95)).toBeCloseTo(1.6449, 4);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.96, 3);
    const worse = compareAccuracy({ correct: 14, n: 20 }, { correct: 20, n: 20 }, 0.95, 0.05);
    expect(worse.verdict).toBe('worse');
    expect(worse.z).toBeCloseTo(-2.657, 3);
    expect(compareAccuracy({ correct: 20, n: 20 }, { correct: 20, n: 20 }, 0.95, 0.05)).toMatchObject({ z: 0, verdict: 'not-worse' });
    expect(compareAccuracy({ correct: 9, n: 10 }, { correct: 9, n: 10 }, 0.95, 0.05).verdict).toBe('undecided');
    expect(compareAccuracy({ correct: 18, n: 20 }, { correct: 20, n: 20 }, 0.95, 0.05).verdict).toBe('undecided'); // 2 misses: chance can explain it
  });
});
