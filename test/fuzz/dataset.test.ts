// Fuzzed evaluation datasets and model answers to score: a bad row is refused before any request,
// naming its file and line; a good row's scorer judges any answer a model can give without throwing.
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/activities/evaluation/dataset.js';
import { DatasetError } from '../../src/activities/evaluation/errors.js';
import { fuzzParams } from './support.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-fuzz-dataset-'));
let n = 0;

/** Scorer specs as users write them, valid or not: names, objects with right and wrong options. */
const scorer = fc.oneof(
  fc.constantFrom('exact_match', 'contains', 'regex', 'numeric', 'json_schema', 'exactmatch', ''),
  fc.record({ type: fc.constantFrom('exact_match', 'contains'), case_sensitive: fc.oneof(fc.boolean(), fc.string()) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('regex'), pattern: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('(', '[a-', '^\\d+$', '(a+)+$')), flags: fc.constantFrom('', 'i', 'ims', 'g', 'x') }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('numeric'), tolerance: fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 })) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('json_schema'), schema: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ type: 'object', required: ['a'], properties: { a: { type: 'integer' } } }), fc.constant({ minLenght: 3 })) }, { requiredKeys: ['type'] }),
  fc.jsonValue({ maxDepth: 2 }),
);

const row = fc.record(
  {
    prompt: fc.string({ maxLength: 40 }),
    messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool'), content: fc.string({ maxLength: 20 }) }), { maxLength: 3 }),
    expected: fc.jsonValue({ maxDepth: 2 }),
    scorer,
    max_tokens: fc.oneof(fc.integer({ min: -2, max: 64 }), fc.double()),
    id: fc.oneof(fc.string(), fc.integer()),
    extra: fc.string(),
  },
  { requiredKeys: [] },
);

/** A line of a JSONL file: mostly row-shaped objects, sometimes anything at all. */
const line = fc
  .oneof({ weight: 4, arbitrary: row.map((r) => JSON.stringify(r)) }, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string({ unit: 'binary', maxLength: 60 }))
  .map((l) => l.replace(/[\r\n]/g, ' ')); // one line each, as in any JSONL file

/** What a model may answer: text, numbers, JSON, garbage, very long strings. */
const answer = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.double().map(String), fc.constant('x'.repeat(100_000)));

describe('fuzzed datasets', () => {
  it('a dataset loads, or is refused with DatasetError naming the first bad line; any answer is then scored without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 6 }), fc.array(answer, { minLength: 1, maxLength: 3 }), async (lines, answers) => {
        const file = path.join(dir, `d${n++}.jsonl`);
        writeFileSync(file, lines.join('\n'));
        let dataset;
        try {
          dataset = await loadDataset(file);
        } catch (err) {
          expect(err).toBeInstanceOf(DatasetError);
          const e = err as DatasetError;
          expect(e.message.startsWith(`${file}:${e.line}: `)).toBe(true);
          // Line 0 is the file as a whole (no rows); otherwise the line is one of the file's non-blank lines.
          if (e.line > 0) expect(lines[e.line - 1]?.trim()).toBeTruthy();
          return;
        }
        expect(dataset.rows.length).toBe(lines.filter((l) => l.trim()).length);
        for (const r of dataset.rows) {
          for (const a of answers) {
            const verdict = r.score(a);
            expect(typeof verdict.correct).toBe('boolean');
          }
        }
      }),
      fuzzParams(300),
    );
  });
});
