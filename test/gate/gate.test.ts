// The pure quality gate: thresholds, extra metrics, the champion comparison
// (`max_regression_vs_champion`) and the ✅/❌ report, on hand-made metrics with exact answers.
import { describe, expect, it } from 'vitest';
import { evaluateGate, formatGateReport, GateConfigSchema, type GateConfig, type GateLine } from '../../src/quality/gate.js';

const config = (over: Record<string, unknown> = {}): GateConfig => GateConfigSchema.parse(over);
const good = { accuracy: 0.9, latency_p99_ms: 120, memory_gb: 2 };
const line = (report: { lines: GateLine[] }, metric: string, rule: GateLine['rule'] = 'threshold') => report.lines.find((l) => l.metric === metric && l.rule === rule);

describe('thresholds', () => {
  it("the seed's defaults: accuracy >= 0.85, p99 <= 500 ms, memory <= 16 GB, and the bounds themselves pass", () => {
    expect(evaluateGate(good, config())).toEqual({
      passed: true,
      lines: [
        { metric: 'accuracy', value: 0.9, threshold: 0.85, direction: 'higher', rule: 'threshold', passed: true },
        { metric: 'latency_p99_ms', value: 120, threshold: 500, direction: 'lower', rule: 'threshold', passed: true },
        { metric: 'memory_gb', value: 2, threshold: 16, direction: 'lower', rule: 'threshold', passed: true },
      ],
    });
    expect(evaluateGate({ accuracy: 0.85, latency_p99_ms: 500, memory_gb: 16 }, config()).passed).toBe(true);
  });

  it('one metric past its bound fails the gate, and only its line', () => {
    const slow = evaluateGate({ ...good, latency_p99_ms: 500.5 }, config());
    expect(slow.passed).toBe(false);
    expect(slow.lines.filter((l) => !l.passed).map((l) => l.metric)).toEqual(['latency_p99_ms']);
    expect(evaluateGate({ ...good, accuracy: 0.8499 }, config()).passed).toBe(false);
    expect(evaluateGate({ ...good, memory_gb: 16.01 }, config()).passed).toBe(false);
  });

  it('takes the configured thresholds', () => {
    const strict = config({ min_accuracy: 0.95, max_latency_ms: 100, max_memory_gb: 1 });
    expect(evaluateGate(good, strict).lines.map((l) => [l.metric, l.threshold, l.passed])).toEqual([
      ['accuracy', 0.95, false],
      ['latency_p99_ms', 100, false],
      ['memory_gb', 1, false],
    ]);
  });

  it('a missing required metric, NaN or Infinity fails as missing (value null), never passes by accident', () => {
    for (const latency of [undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const report = evaluateGate({ accuracy: 0.9, memory_gb: 1, ...(latency === undefined ? {} : { latency_p99_ms: latency }) }, config());
      expect(report.passed).toBe(false);
      expect(line(report, 'latency_p99_ms')).toMatchObject({ value: null, passed: false });
    }
  });

  it('extra metrics are checked in their own direction', () => {
    const cfg = config({ metrics: { bleu: { threshold: 0.3, direction: 'higher' }, cost_usd: { threshold: 2, direction: 'lower' } } });
    expect(evaluateGate({ ...good, bleu: 0.31, cost_usd: 1.5 }, cfg).passed).toBe(true);
    const bad = evaluateGate({ ...good, bleu: 0.29, cost_usd: 2.5 }, cfg);
    expect(bad.lines.filter((l) => !l.passed).map((l) => l.metric)).toEqual(['bleu', 'cost_usd']);
    expect(line(evaluateGate(good, cfg), 'bleu')).toMatchObject({ value: null, passed: false });
  });

  it('is pure: same answer twice, inputs untouched', () => {
    const metrics = { ...good };
    const cfg = config({ max_regression_vs_champion: 0.01 });
    const champion = { accuracy: 0.91 };
    const frozen = JSON.stringify([metrics, cfg, champion]);
    expect(evaluateGate(metrics, cfg, champion)).toEqual(evaluateGate(metrics, cfg, champion));
    expect(JSON.stringify([metrics, cfg, champion])).toBe(frozen);
  });
});

describe('max_regression_vs_champion', () => {
  const cfg = config({ max_regression_vs_champion: 0.02 });

  it('fails a candidate that passes every threshold but is worse than the champion by more than the tolerance', () => {
    const report = evaluateGate({ ...good, accuracy: 0.92 }, cfg, { accuracy: 0.95, latency_p99_ms: 120 });
    expect(report.passed).toBe(false);
    expect(line(report, 'accuracy')).toMatchObject({ passed: true, threshold: 0.85 });
    const vsChampion = line(report, 'accuracy', 'champion')!;
    expect(vsChampion).toMatchObject({ value: 0.92, direction: 'higher', passed: false });
    expect(vsChampion.threshold).toBeCloseTo(0.93, 12);
  });

  it('passes within the tolerance, and at its edge', () => {
    expect(evaluateGate({ ...good, accuracy: 0.94 }, cfg, { accuracy: 0.95 }).passed).toBe(true);
    expect(evaluateGate({ ...good, accuracy: 0.5 }, config({ min_accuracy: 0, max_regression_vs_champion: 0.25 }), { accuracy: 0.75 }).passed).toBe(true);
  });

  it('for lower-is-better metrics the bound is above the champion (absolute, in the metric\'s unit)', () => {
    const latency = config({ max_regression_vs_champion: 10 });
    const champion = { latency_p99_ms: 100 };
    expect(line(evaluateGate({ ...good, latency_p99_ms: 110 }, latency, champion), 'latency_p99_ms', 'champion')).toMatchObject({ threshold: 110, passed: true });
    expect(line(evaluateGate({ ...good, latency_p99_ms: 111 }, latency, champion), 'latency_p99_ms', 'champion')).toMatchObject({ threshold: 110, passed: false });
  });

  it('a tolerance of 0 means no worse than the champion; better always passes', () => {
    const none = config({ max_regression_vs_champion: 0 });
    expect(evaluateGate({ ...good, accuracy: 0.9 }, none, { accuracy: 0.9 }).passed).toBe(true);
    expect(evaluateGate({ ...good, accuracy: 0.8999 }, none, { accuracy: 0.9 }).passed).toBe(false);
    expect(evaluateGate({ ...good, accuracy: 0.99 }, none, { accuracy: 0.9 }).passed).toBe(true);
  });

  it('compares only the metrics the champion has, and only when both a champion and a tolerance are given', () => {
    const partial = evaluateGate(good, cfg, { accuracy: 0.9 });
    expect(partial.lines.filter((l) => l.rule === 'champion').map((l) => l.metric)).toEqual(['accuracy']);
    expect(evaluateGate(good, cfg).lines.some((l) => l.rule === 'champion')).toBe(false);
    expect(evaluateGate(good, config(), { accuracy: 0.99 }).lines.some((l) => l.rule === 'champion')).toBe(false);
  });

  it('a candidate missing a metric the champion has fails that comparison too', () => {
    const report = evaluateGate({ accuracy: 0.9, memory_gb: 1 }, cfg, { latency_p99_ms: 100 });
    expect(line(report, 'latency_p99_ms', 'champion')).toMatchObject({ value: null, passed: false });
  });
});

describe('the report', () => {
  it('one ✅/❌ line per check with value and bound, the champion lines named, then the verdict', () => {
    const report = evaluateGate({ accuracy: 0.92, latency_p99_ms: 120, memory_gb: 2 }, config({ max_regression_vs_champion: 0.02 }), { accuracy: 0.95 });
    expect(formatGateReport(report).split('\n')).toEqual([
      '✅ accuracy: 0.92 (required >= 0.85)',
      '❌ accuracy vs champion: 0.92 (required >= 0.93)',
      '✅ latency_p99_ms: 120 (required <= 500)',
      '✅ memory_gb: 2 (required <= 16)',
      'Gate failed.',
    ]);
  });

  it('says a metric is missing rather than printing a number', () => {
    const text = formatGateReport(evaluateGate({ latency_p99_ms: 1, memory_gb: 1 }, config()));
    expect(text).toContain('❌ accuracy: missing from the metrics (required >= 0.85)');
    expect(text.endsWith('Gate failed.')).toBe(true);
    expect(formatGateReport(evaluateGate(good, config())).endsWith('Gate passed.')).toBe(true);
  });
});
