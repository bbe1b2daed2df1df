// The spec's gates section as a user writes it: a misspelt key is refused with the nearest name,
// other errors are reported beside it, and an unset max_memory_gb gates memory only when measured.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadSpec, SpecError } from '../../src/client/spec-file.js';
import { evaluateGate } from '../../src/quality/gate.js';
import { tempDir } from './support/dataset.js';

const dir = tempDir('slipway-spec-');
const base = {
  name: 'tiny',
  model: { name: 'tiny' },
  train: { command: ['python', 'train.py'] },
  serve: { command: ['python', 'serve.py', '--port', '{port}'] },
  evaluate: { dataset: 'eval.jsonl' },
};

/** Writes a YAML spec and loads it as `slipway run` does; returns the problems, or [] when valid. */
function problems(spec: object): string[] {
  const file = path.join(dir, 'pipeline.yaml');
  writeFileSync(file, YAML.stringify(spec));
  try {
    loadSpec(file);
    return [];
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return err.problems;
  }
}

describe('spec gates', () => {
  it('refuses a misspelt gate, naming the nearest key, together with any other problem', () => {
    expect(problems({ ...base, gates: { min_acuracy: 0.9, max_latency_ms: -1 } })).toEqual([
      'gates.max_latency_ms: Too small: expected number to be >0',
      'gates.min_acuracy: unknown key; did you mean min_accuracy? extra metrics go under gates.metrics',
    ]);
    expect(problems({ ...base, gates: { max_memory: 8 } })).toEqual(['gates.max_memory: unknown key; did you mean max_memory_gb? extra metrics go under gates.metrics']);
  });

  it('lists the known keys when nothing is close, and points extra metrics to gates.metrics', () => {
    expect(problems({ ...base, gates: { bleu: 0.3 } })).toEqual([
      'gates.bleu: unknown key; known keys: min_accuracy, max_latency_ms, max_memory_gb, max_ttft_ms, metrics, max_regression_vs_champion; extra metrics go under gates.metrics',
    ]);
    expect(problems({ ...base, gates: { metrics: { bleu: { threshold: 0.3, direction: 'higher' } } } })).toEqual([]);
  });

  it('leaves max_memory_gb unset by default: memory is gated at 16 GB when measured and skipped with a warning when not', () => {
    const { spec } = loadSpecOf({ ...base });
    expect(spec.gates.max_memory_gb).toBeUndefined();
    expect(spec.evaluate.cache).toBe(true);
    const unmeasured = evaluateGate({ accuracy: 0.9, latency_p99_ms: 100 }, spec.gates);
    expect(unmeasured).toEqual({
      passed: true,
      lines: [
        { metric: 'accuracy', value: 0.9, threshold: 0.85, direction: 'higher', rule: 'threshold', passed: true },
        { metric: 'latency_p99_ms', value: 100, threshold: 500, direction: 'lower', rule: 'threshold', passed: true },
      ],
      warnings: ['memory_gb not measured: check skipped (set max_memory_gb to require a measurement)'],
    });
    expect(evaluateGate({ accuracy: 0.9, latency_p99_ms: 100, memory_gb: 17 }, spec.gates).passed).toBe(false);
    const required = loadSpecOf({ ...base, gates: { max_memory_gb: 16 } }).spec.gates;
    expect(evaluateGate({ accuracy: 0.9, latency_p99_ms: 100 }, required).lines.at(-1)).toEqual({ metric: 'memory_gb', value: null, threshold: 16, direction: 'lower', rule: 'threshold', passed: false });
  });

  it('gates the p99 time to first token with max_ttft_ms, which needs streamed answers', () => {
    expect(problems({ ...base, gates: { max_ttft_ms: 200 } })).toEqual(['evaluate.stream: gates.max_ttft_ms needs streamed answers: set evaluate.stream: true']);
    const { spec } = loadSpecOf({ ...base, evaluate: { dataset: 'eval.jsonl', stream: true }, gates: { max_ttft_ms: 200 } });
    const ok = { accuracy: 0.9, latency_p99_ms: 100 };
    expect(evaluateGate({ ...ok, ttft_p99_ms: 150 }, spec.gates).passed).toBe(true);
    expect(evaluateGate({ ...ok, ttft_p99_ms: 250 }, spec.gates).lines.at(-1)).toEqual({ metric: 'ttft_p99_ms', value: 250, threshold: 200, direction: 'lower', rule: 'threshold', passed: false });
    // Not measured (the server was evaluated without streaming): missing, so the gate fails.
    expect(evaluateGate(ok, spec.gates).passed).toBe(false);
  });
});

function loadSpecOf(spec: object) {
  const file = path.join(dir, 'ok.yaml');
  writeFileSync(file, YAML.stringify(spec));
  return loadSpec(file);
}
