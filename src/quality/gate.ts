// The quality gate: pure and deterministic, so the workflow can run it directly (no activity).
import { z } from 'zod';

const direction = z.enum(['higher', 'lower']);

/** A metric the config adds beyond the three defaults: its threshold and which way is better. */
const ExtraMetric = z.object({ threshold: z.number(), direction }).strict();

/** The seed's gate config file (gates.json); unknown keys such as `eval_dataset` are allowed. */
export const GateConfigSchema = z
  .object({
    min_accuracy: z.number().min(0).max(1).default(0.85),
    max_latency_ms: z.number().positive().default(500),
    max_memory_gb: z.number().positive().default(16),
    /** Extra metrics by name, e.g. `{ "bleu": { "threshold": 0.3, "direction": "higher" } }`. */
    metrics: z.record(z.string(), ExtraMetric).default({}),
    /** Fail when a metric is worse than the champion's by more than this (absolute). */
    max_regression_vs_champion: z.number().nonnegative().optional(),
  })
  .passthrough();

export type GateConfig = z.infer<typeof GateConfigSchema>;
export type Metrics = Record<string, number>;

export interface GateLine {
  metric: string;
  value: number | null;
  threshold: number;
  direction: 'higher' | 'lower';
  passed: boolean;
  /** Which rule this line checks: the threshold or the champion. */
  rule: 'threshold' | 'champion';
}

export interface GateReport {
  passed: boolean;
  lines: GateLine[];
}

/** The metrics file's names for the three defaults. */
function rules(config: GateConfig): Array<Pick<GateLine, 'metric' | 'threshold' | 'direction'>> {
  return [
    { metric: 'accuracy', threshold: config.min_accuracy, direction: 'higher' },
    { metric: 'latency_p99_ms', threshold: config.max_latency_ms, direction: 'lower' },
    { metric: 'memory_gb', threshold: config.max_memory_gb, direction: 'lower' },
    ...Object.entries(config.metrics).map(([metric, m]) => ({ metric, ...m })),
  ];
}

const better = (dir: 'higher' | 'lower', value: number, bound: number) => (dir === 'higher' ? value >= bound : value <= bound);

/** Checks metrics against thresholds and, when a champion is given, against its metrics. */
export function evaluateGate(metrics: Metrics, config: GateConfig, champion?: Metrics): GateReport {
  const lines: GateLine[] = [];
  for (const rule of rules(config)) {
    // NaN or Infinity (a broken measurement) counts as missing: it must not pass a `<=` check by accident.
    const raw = metrics[rule.metric];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    lines.push({ ...rule, value, rule: 'threshold', passed: value !== null && better(rule.direction, value, rule.threshold) });
    const championValue = champion?.[rule.metric];
    const tolerance = config.max_regression_vs_champion;
    if (tolerance !== undefined && typeof championValue === 'number') {
      const bound = rule.direction === 'higher' ? championValue - tolerance : championValue + tolerance;
      lines.push({ ...rule, value, threshold: bound, rule: 'champion', passed: value !== null && better(rule.direction, value, bound) });
    }
  }
  return { passed: lines.every((l) => l.passed), lines };
}

/** One ✅/❌ line per check, with value and threshold; a missing metric says so. */
export function formatGateReport(report: GateReport): string {
  const out = report.lines.map((l) => {
    const op = l.direction === 'higher' ? '>=' : '<=';
    const what = l.rule === 'champion' ? `${l.metric} vs champion` : l.metric;
    if (l.value === null) return `❌ ${what}: missing from the metrics (required ${op} ${l.threshold})`;
    return `${l.passed ? '✅' : '❌'} ${what}: ${l.value} (required ${op} ${round(l.threshold)})`;
  });
  out.push(report.passed ? 'Gate passed.' : 'Gate failed.');
  return out.join('\n');
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
