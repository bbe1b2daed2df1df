import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/quality/histogram.js';
import { checkJsonSchema, type JsonSchema } from '../../src/quality/json-schema.js';
import { compileScorer } from '../../src/quality/scorers.js';

describe('scorers', () => {
  it('exact_match trims, contains looks inside, regex matches the trimmed answer', () => {
    expect(compileScorer(undefined, '4')(' 4\n').correct).toBe(true);
    expect(compileScorer('exact_match', '4')('4.0')).toEqual({ correct: false, reason: 'expected "4"' });
    expect(compileScorer({ type: 'exact_match', case_sensitive: false }, 'Paris')('paris').correct).toBe(true);
    expect(compileScorer('contains', 'Paris')('It is Paris.').correct).toBe(true);
    expect(compileScorer({ type: 'regex', pattern: '^4$', flags: '' }, 'ignored')(' 4 ').correct).toBe(true);
    expect(compileScorer('regex', '^\\d+$')('four').correct).toBe(false);
  });

  it('numeric takes the last number and honours the tolerance', () => {
    const score = compileScorer({ type: 'numeric', tolerance: 0.01 }, 3.14);
    expect(score('3.141').correct).toBe(true);
    expect(score('First 2, so the answer is 3.15').correct).toBe(true);
    expect(score('3.2').correct).toBe(false);
    expect(score('no idea')).toEqual({ correct: false, reason: 'no number in the answer' });
    expect(compileScorer('numeric', '1000')('1,000').correct).toBe(true);
  });

  it('json_schema parses the answer (fenced or not) and checks its shape', () => {
    const schema: JsonSchema = { type: 'object', required: ['name', 'tags'], properties: { name: { type: 'string' }, tags: { type: 'array', items: { enum: ['a', 'b'] } } } };
    const score = compileScorer({ type: 'json_schema', schema }, null);
    expect(score('```json\n{"name":"x","tags":["a"]}\n```').correct).toBe(true);
    expect(score('{"name":"x","tags":["c"]}')).toEqual({ correct: false, reason: '$.tags[0]: expected one of ["a","b"]' });
    expect(score('{"tags":[]}').reason).toBe('$: missing required property "name"');
    expect(score('not json').reason).toBe('answer is not JSON');
    expect(checkJsonSchema(1.5, { type: 'integer' })).toBe('$: expected integer, got number');
  });

  it('refuses a scorer that cannot work, with the reason', () => {
    expect(() => compileScorer('regex', '(')).toThrow(/Invalid regular expression/);
    expect(() => compileScorer('numeric', 'four')).toThrow('numeric scorer: expected must be a number');
    expect(() => compileScorer('json_schema', 'x')).toThrow('json_schema scorer: expected must be a JSON Schema object');
  });
});

describe('LatencyHistogram', () => {
  it('gives percentiles within 1% of the exact nearest-rank value', () => {
    // A fixed pseudo-random sample (LCG) spread over four decades, like real latencies.
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const samples = Array.from({ length: 50_000 }, () => 0.5 * 10 ** (rand() * 4));
    const h = new LatencyHistogram();
    samples.forEach((s) => h.record(s));
    const sorted = [...samples].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(Math.abs(h.percentile(q) - exact) / exact).toBeLessThan(0.01);
    }
    expect(h.percentile(1)).toBe(sorted.at(-1));
    expect(h.count).toBe(50_000);
  });

  it('is exact for sub-millisecond steps and empty when nothing was recorded', () => {
    const h = new LatencyHistogram();
    expect(h.percentile(0.99)).toBe(0);
    [0.1, 0.2, 0.2, 0.25].forEach((v) => h.record(v));
    expect(h.percentile(0.5)).toBe(0.2);
    expect(h.percentile(0.99)).toBe(0.25);
  });
});
