// The quality gate: pure and deterministic, so the workflow can run it directly (no activity).
import { z } from 'zod';
import { nearestName } from './nearest-name.js';

const direction = z.enum(['higher', 'lower']);

/** A metric the config adds beyond the three defaults: its threshold and which way is better. */
const ExtraMetric = z.object({ threshold: z.number(), direction }).strict();

/** The memory threshold applied when the config leaves `max_memory_gb` unset and memory was measured. */
export const DEFAULT_MAX_MEMORY_GB = 16;

const GateShape = {
  min_accuracy: z.number().min(0).max(1).default(0.85),
  max_latency_ms: z.number().positive().default(500),
  /**
   * Set: memory must be measured and at most this. Unset: DEFAULT_MAX_MEMORY_GB applies when
   * memory was measured, and the check is skipped with a warning when it was not.
   */
  max_memory_gb: z.number().positive().optional(),
  /** Set: answers must be streamed (evaluate.stream) and the p99 time to first token at most this. */
  max_ttft_ms: z.number().positive().optional(),
  /** Extra metrics by name, e.g. `{ "bleu": { "threshold": 0.3, "direction": "higher" } }`. */
  metrics: z.record(z.string(), ExtraMetric).default({}),
  /** Fail when a metric is worse than the champion's by more than this (absolute). */
  max_regression_vs_champion: z.number().nonnegative().optional(),
};
const GATE_KEYS = Object.keys(GateShape);

/** The seed's gate config file (gates.json); unknown keys such as `eval_dataset` are allowed. */
export const GateConfigSchema = z.object(GateShape).passthrough();

/**
 * The spec's `gates` section: an unknown key is an error that names the nearest known one, since
 * a typo such as `min_acuracy` would otherwise leave the default threshold silently in force.
 * The check runs even when another field is invalid, so every problem is reported at once.
 */
export const SpecGatesSchema = z
  .object(GateShape)
  .passthrough()
  .check(
    z.superRefine(
      (value: Record<string, unknown>, ctx) => {
        for (const key of Object.keys(value)) {
          if (GATE_KEYS.includes(key)) continue;
          ctx.addIssue({ code: 'custom', path: [key], message: unknownGateKey(key) });
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
    ),
  );

/** `unknown key; did you mean min_accuracy? extra metrics go under gates.metrics`. */
export function unknownGateKey(key: string): string {
  const near = nearestName(key, GATE_KEYS);
  return `unknown key; ${near ? `did you mean ${near}?` : `known keys: ${GATE_KEYS.join(', ')};`} extra metrics go under gates.metrics`;
}

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
  /** Checks that were skipped and why (e.g. memory not measured under the default threshold). */
  warnings?: string[];
}

interface Rule extends Pick<GateLine, 'metric' | 'threshold' | 'direction'> {
  /** A required metric that is missing fails; an optional one is skipped with a warning. */
  required: boolean;
}

/** The metrics file's names for the three defaults. */
function rules(config: GateConfig): Rule[] {
  return [
    { metric: 'accuracy', threshold: config.min_accuracy, direction: 'higher', required: true },
    { metric: 'latency_p99_ms', threshold: config.max_latency_ms, direction: 'lower', required: true },
    { metric: 'memory_gb', threshold: config.max_memory_gb ?? DEFAULT_MAX_MEMORY_GB, direction: 'lower', required: config.max_memory_gb !== undefined },
    ...(config.max_ttft_ms !== undefined ? [{ metric: 'ttft_p99_ms', threshold: config.max_ttft_ms, direction: 'lower' as const, required: true }] : []),
    ...Object.entries(config.metrics).map(([metric, m]) => ({ metric, ...m, required: true })),
  ];
}

const better = (dir: 'higher' | 'lower', value: number, bound: number) => (dir === 'higher' ? value >= bound : value <= bound);

/** Checks metrics against thresholds and, when a champion is given, against its metrics. */
export function evaluateGate(metrics: Metrics, config: GateConfig, champion?: Metrics): GateReport {
  const lines: GateLine[] = [];
  const warnings: string[] = [];
  for (const { required, ...rule } of rules(config)) {
    // NaN or Infinity (a broken measurement) counts as missing: it must not pass a `<=` check by accident.
    const raw = metrics[rule.metric];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    if (value === null && !required) {
      warnings.push(`${rule.metric} not measured: check skipped (set max_memory_gb to require a measurement)`);
      continue;
    }
    lines.push({ ...rule, value, rule: 'threshold', passed: value !== null && better(rule.direction, value, rule.threshold) });
    const championValue = champion?.[rule.metric];
    const tolerance = config.max_regression_vs_champion;
    if (tolerance !== undefined && typeof championValue === 'number') {
      const bound = rule.direction === 'higher' ? championValue - tolerance : championValue + tolerance;
      lines.push({ ...rule, value, threshold: bound, rule: 'champion', passed: value !== null && better(rule.direction, value, bound) });
    }
  }
  return { passed: lines.every((l) => l.passed), lines, ...(warnings.length > 0 && { warnings }) };
}

/** One ✅/❌ line per check, with value and threshold, a ⚠️ line per skipped check; a missing metric says so. */
export function formatGateReport(report: GateReport): string {
  const out = report.lines.map((l) => {
    const op = l.direction === 'higher' ? '>=' : '<=';
    const what = l.rule === 'champion' ? `${l.metric} vs champion` : l.metric;
    if (l.value === null) return `❌ ${what}: ${l.metric === 'memory_gb' ? 'not measured' : 'missing from the metrics'} (required ${op} ${round(l.threshold)})`;
    return `${l.passed ? '✅' : '❌'} ${what}: ${l.value} (required ${op} ${round(l.threshold)})`;
  });
  for (const w of report.warnings ?? []) out.push(`⚠️ ${w}`);
  out.push(report.passed ? 'Gate passed.' : 'Gate failed.');
  return out.join('\n');
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
