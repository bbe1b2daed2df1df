// Scorers turn a model's answer into right/wrong. A dataset row names one (a string) or describes
// one (an object); rows are compiled once, when the dataset is read, so a bad regex or schema fails
// fast with the row's line instead of halfway through an evaluation. Pure (no I/O).
import { z } from 'zod';
import { compileJsonSchema, type JsonSchema } from './json-schema.js';

/** A JSON Schema (2020-12) as a row gives it: an object or a boolean; Ajv checks the rest at compile time. */
const JsonSchemaSpec: z.ZodType<JsonSchema> = z.union([z.record(z.string(), z.unknown()), z.boolean()]);

/** A scorer as a dataset row gives it: a name, or an object with its parameters. */
export const ScorerSpecSchema = z.union([
  z.enum(['exact_match', 'contains', 'regex', 'json_schema', 'numeric']),
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('exact_match'), case_sensitive: z.boolean().default(true) }).strict(),
    z.object({ type: z.literal('contains'), case_sensitive: z.boolean().default(true) }).strict(),
    z.object({ type: z.literal('regex'), pattern: z.string(), flags: z.string().regex(/^[imsu]*$/).default('') }).strict(),
    z.object({ type: z.literal('numeric'), tolerance: z.number().nonnegative().default(1e-9) }).strict(),
    z.object({ type: z.literal('json_schema'), schema: JsonSchemaSpec }).strict(),
  ]),
]);
export type ScorerSpec = z.infer<typeof ScorerSpecSchema>;

export interface Score {
  correct: boolean;
  /** Why an answer was judged wrong (absent when right). */
  reason?: string;
}

/** A compiled scorer: `(answer) => Score`. */
export type Scorer = (output: string) => Score;

/**
 * Compiles a row's scorer. A named scorer takes its parameter from `expected` (the text, the
 * pattern, the number or the schema); an object scorer carries its own, and `expected` is the
 * value compared where one is needed. Throws an Error whose message says what is wrong.
 */
export function compileScorer(spec: ScorerSpec | undefined, expected: unknown): Scorer {
  const s = typeof spec === 'string' || spec === undefined ? { type: spec ?? 'exact_match' } : spec;
  switch (s.type) {
    case 'exact_match':
    case 'contains': {
      const caseSensitive = 'case_sensitive' in s ? s.case_sensitive !== false : true;
      const want = norm(requireString(expected, s.type), caseSensitive);
      return s.type === 'exact_match'
        ? (out) => verdict(norm(out, caseSensitive) === want, `expected ${JSON.stringify(want)}`)
        : (out) => verdict(norm(out, caseSensitive).includes(want), `expected to contain ${JSON.stringify(want)}`);
    }
    case 'regex': {
      const pattern = 'pattern' in s ? s.pattern : requireString(expected, 'regex');
      const re = new RegExp(pattern, 'flags' in s ? s.flags : '');
      return (out) => verdict(re.test(out.trim()), `expected to match /${pattern}/`);
    }
    case 'numeric': {
      const want = typeof expected === 'number' ? expected : Number(requireString(expected, 'numeric').trim());
      if (!Number.isFinite(want)) throw new Error('numeric scorer: expected must be a number');
      const tolerance = 'tolerance' in s ? s.tolerance : 1e-9;
      return (out) => {
        const got = lastNumber(out);
        if (got === null) return { correct: false, reason: 'no number in the answer' };
        return verdict(Math.abs(got - want) <= tolerance, `expected ${want} ± ${tolerance}, got ${got}`);
      };
    }
    case 'json_schema': {
      const schema = 'schema' in s ? s.schema : JsonSchemaSpec.safeParse(expected).data;
      if (schema === undefined) throw new Error('json_schema scorer: expected must be a JSON Schema object');
      const check = compileJsonSchema(schema);
      return (out) => {
        let value: unknown;
        try {
          value = JSON.parse(stripFence(out));
        } catch {
          return { correct: false, reason: 'answer is not JSON' };
        }
        const problem = check(value);
        return problem ? { correct: false, reason: problem } : { correct: true };
      };
    }
  }
}

const verdict = (ok: boolean, reason: string): Score => (ok ? { correct: true } : { correct: false, reason });
const norm = (s: string, caseSensitive: boolean) => (caseSensitive ? s.trim() : s.trim().toLowerCase());

function requireString(expected: unknown, scorer: string): string {
  if (typeof expected === 'string') return expected;
  if (typeof expected === 'number' && scorer !== 'regex') return String(expected);
  throw new Error(`${scorer} scorer: expected must be a string`);
}

/** The whole answer when it is a number, else the last number in it (the usual final answer). */
function lastNumber(out: string): number | null {
  const whole = Number(out.trim());
  if (out.trim() !== '' && Number.isFinite(whole)) return whole;
  const all = out.replace(/(\d),(?=\d{3}\b)/g, '$1').match(/-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi);
  const last = all?.at(-1);
  return last === undefined ? null : Number(last);
}

/** Models often wrap JSON in a ```json fence. */
function stripFence(out: string): string {
  const m = /^\s*```(?:json)?\s*\n?([\s\S]*?)\n?```\s*$/i.exec(out);
  return m?.[1] ?? out;
}
