// Parsing of gate inputs (gates.json, metrics files) into what evaluateGate takes, with errors that
// name the field. Pure: the CLI reads the files, the workflow gets the config from the spec.
import { GateConfigSchema, type GateConfig, type Metrics } from './gate.js';
import { nearestName } from './nearest-name.js';

export type Parsed<T> = { ok: true; value: T; warnings?: string[] } | { ok: false; issues: string[] };

const GATE_KEYS = Object.keys(GateConfigSchema.shape);

/**
 * Validates a gate config; each issue reads `min_accuracy: expected number, received string`.
 * The seed's gates.json may carry other keys (e.g. `eval_dataset`), so an unknown key is allowed;
 * one that looks like a misspelt gate (`min_acuracy`) comes back as a warning.
 */
export function parseGateConfig(raw: unknown): Parsed<GateConfig> {
  const result = GateConfigSchema.safeParse(raw);
  if (!result.success) {
    return {
      ok: false,
      issues: result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message.replace(/^Invalid input: /, '')}`),
    };
  }
  const warnings: string[] = [];
  for (const key of Object.keys(result.data)) {
    const near = GATE_KEYS.includes(key) ? undefined : nearestName(key, GATE_KEYS);
    if (near) warnings.push(`${key}: not a gate, ignored; did you mean ${near}?`);
  }
  return { ok: true, value: result.data, ...(warnings.length > 0 && { warnings }) };
}

/**
 * The numeric metrics of a metrics file. Non-numeric fields are ignored, so an evaluation summary
 * (`slipway eval --json`) is a valid metrics file; a null (e.g. memory not measured) counts as missing.
 */
export function parseMetrics(raw: unknown): Parsed<Metrics> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, issues: ['(metrics): expected a JSON object of metric names to numbers'] };
  const metrics: Metrics = {};
  for (const [name, value] of Object.entries(raw)) if (typeof value === 'number' && Number.isFinite(value)) metrics[name] = value;
  return { ok: true, value: metrics };
}
