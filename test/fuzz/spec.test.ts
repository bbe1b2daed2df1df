// Fuzzed pipeline specs: whatever a user writes, validation answers with problems that name a field
// and a rule, or with a spec; it never throws anything else, and never accepts a spec it cannot run.
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadSpec, SpecError } from '../../src/client/spec-file.js';
import { formatSpecIssues, PipelineSpecSchema } from '../../src/spec/schema.js';
import { fuzzParams } from './support.js';

const VALID = {
  name: 'fuzz',
  model: { name: 'fuzz-model' },
  train: { command: ['python', 'train.py'], params: { steps: 10 } },
  serve: { command: ['python', 'serve.py', '--port', '{port}'] },
  evaluate: { dataset: 'eval.jsonl', concurrency: 4, variants: [{ name: 'a', params: { lr: 0.1 } }] },
  gates: { min_accuracy: 0.5 },
  approval: { approvers: ['alice'], timeout: '1d' },
  monitor: { duration: '10m', interval: '30s' },
};

/** Every path into an object, as key arrays. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

/** A copy of `base` with the value at `at` replaced (or removed when `replacement` is undefined). */
function mutate(base: unknown, at: Array<string | number>, replacement: unknown): unknown {
  if (at.length === 0) return replacement;
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = at.at(-1)!;
  if (replacement === undefined) delete node[last];
  else node[last] = replacement;
  return copy;
}

// `field.path: what is wrong`, where a segment is a plain name or a quoted key.
const SEGMENT = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")`;
const PROBLEM_LINE = new RegExp(String.raw`^(?:\(spec\)|${SEGMENT}(?:\.${SEGMENT})*): \S`, 's');

/** Validation either accepts or explains itself, one line per field; it never throws. */
function checkValidation(raw: unknown): void {
  const parsed = PipelineSpecSchema.safeParse(raw);
  if (parsed.success) {
    // An accepted spec has what the workflow needs to run.
    expect(parsed.data.train.command.length).toBeGreaterThan(0);
    expect(parsed.data.serve.command.length).toBeGreaterThan(0);
    return;
  }
  const lines = formatSpecIssues(parsed.error);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatch(PROBLEM_LINE);
}

const allPaths = paths(VALID);

describe('fuzzed pipeline specs', () => {
  it('any JSON value: accepted, or refused with field-named problems', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (raw) => checkValidation(raw)), fuzzParams(300));
  });

  it('a valid spec with one field replaced, removed or added: accepted, or refused naming that field', () => {
    const replacement = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 2000 }), fc.double(), fc.integer());
    fc.assert(
      fc.property(fc.constantFrom(...allPaths), replacement, fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }), (at, value, extraKey) => {
        // An extra key goes beside an object's fields (an array's are its indexes).
        const addKey = extraKey !== undefined && at.length > 0 && typeof at.at(-1) === 'string';
        const target = addKey ? [...at.slice(0, -1), extraKey] : at;
        const raw = mutate(VALID, target, value);
        checkValidation(raw);
        const parsed = PipelineSpecSchema.safeParse(raw);
        if (!parsed.success && target.length > 0) {
          // The problem is reported at or under the mutated field's parent, not somewhere unrelated.
          const parent = target.slice(0, -1).join('.');
          expect(formatSpecIssues(parsed.error).some((l) => l.startsWith(parent) || l.startsWith('(spec)') || l.startsWith('evaluate.stream'))).toBe(true);
        }
      }),
      fuzzParams(400),
    );
  });

  it('any YAML text in a spec file: loadSpec returns a spec or throws SpecError with problems, nothing else', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-fuzz-spec-'));
    const file = path.join(dir, 'pipeline.yaml');
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 500 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => YAML.stringify(v)),
      fc.constantFrom(...allPaths).chain((at) => fc.jsonValue({ maxDepth: 2 }).map((v) => YAML.stringify(mutate(VALID, at, v)))),
    );
    fc.assert(
      fc.property(text, (yaml) => {
        writeFileSync(file, yaml);
        try {
          loadSpec(file);
        } catch (err) {
          expect(err).toBeInstanceOf(SpecError);
          expect((err as SpecError).problems.length).toBeGreaterThan(0);
        }
      }),
      fuzzParams(60),
    );
  });
});
