import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/quality/histogram.js';
import { compileJsonSchema, type JsonSchema } from '../../src/quality/json-schema.js';
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

  it('json_schema parses the answer (fenced or not) and checks it with JSON Schema 2020-12', () => {
    const schema: JsonSchema = { type: 'object', required: ['name', 'tags'], properties: { name: { type: 'string' }, tags: { type: 'array', items: { enum: ['a', 'b'] } } } };
    const score = compileScorer({ type: 'json_schema', schema }, null);
    expect(score('```json\n{"name":"x","tags":["a"]}\n```').correct).toBe(true);
    expect(score('{"name":"x","tags":["c"]}')).toEqual({ correct: false, reason: '$.tags[0]: must be equal to one of the allowed values ["a","b"]' });
    expect(score('{"tags":[]}').reason).toBe("$: must have required property 'name'");
    expect(score('not json').reason).toBe('answer is not JSON');
    expect(compileJsonSchema({ type: 'integer' })(1.5)).toBe('$: must be integer');
  });

  it('json_schema enforces the keywords the old subset ignored: pattern, minLength, formats of numbers, $defs', () => {
    const id = compileScorer('json_schema', { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Z]{3}-\\d+$', minLength: 5 } }, additionalProperties: false });
    expect(id('{"id":"ABC-12"}').correct).toBe(true);
    expect(id('{"id":"abc"}').reason).toBe('$.id: must NOT have fewer than 5 characters');
    expect(id('{"id":"abcde"}').reason).toBe('$.id: must match pattern "^[A-Z]{3}-\\d+$"');
    expect(id('{"id":"ABC-1","x":1}').reason).toBe('$: must NOT have additional properties ("x")');
    const refs = compileJsonSchema({ $defs: { n: { type: 'number', exclusiveMinimum: 0, multipleOf: 0.5 } }, type: 'array', items: { $ref: '#/$defs/n' }, uniqueItems: true });
    expect(refs([0.5, 1])).toBeNull();
    expect(refs([1, 1])).toMatch(/^\$: must NOT have duplicate items/);
    expect(refs([0])).toBe('$[0]: must be > 0');
  });

  it('refuses a schema Ajv cannot compile: unknown keyword, bad type, bad pattern, unresolvable $ref, unknown format', () => {
    const refused = (schema: JsonSchema) => () => compileScorer({ type: 'json_schema', schema }, null);
    expect(refused({ type: 'string', minLenght: 3 })).toThrow('json_schema scorer: invalid schema: strict mode: unknown keyword: "minLenght"');
    expect(refused({ type: 'strin' })).toThrow(/invalid schema: schema is invalid: data\/type must be equal to one of the allowed values/);
    expect(refused({ type: 'string', pattern: '(' })).toThrow(/invalid schema: Invalid regular expression/);
    expect(refused({ $ref: 'other.json' })).toThrow("invalid schema: can't resolve reference other.json");
    expect(refused({ type: 'string', format: 'email' })).toThrow('invalid schema: unknown format "email"');
  });

  it('compiles a schema once, and lets two datasets use the same $id for different schemas', () => {
    const a = { $id: 'https://example.com/answer.json', type: 'string' };
    expect(compileJsonSchema(a)('x')).toBeNull();
    expect(compileJsonSchema({ ...a })).toBe(compileJsonSchema(a)); // same text: the same compiled validator
    const b = { $id: 'https://example.com/answer.json', type: 'number' };
    expect(compileJsonSchema(b)('x')).toBe('$: must be number');
    expect(compileJsonSchema(true)('anything')).toBeNull();
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
