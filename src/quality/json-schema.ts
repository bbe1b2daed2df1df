// The json_schema scorer's validator: JSON Schema 2020-12 through Ajv. A schema is compiled once
// (cached by its text, so a dataset that repeats one schema on every row compiles it once), and a
// schema Ajv cannot compile, or one with an unknown keyword or format, is refused when the dataset
// is loaded rather than passing every answer.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export type JsonSchema = Record<string, unknown> | boolean;

/** A compiled schema: the first problem as `path: reason`, or null when the value conforms. */
export type JsonSchemaCheck = (value: unknown) => string | null;

// strictSchema refuses unknown keywords and formats (a typo such as `minLenght` would otherwise be
// ignored); strictTypes and friends only log, and nothing here may write to the console.
const ajv = new Ajv2020({ strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false, allErrors: false, logger: false });
const compiled = new Map<string, JsonSchemaCheck>();
/** Distinct schemas kept compiled; a long-lived worker sees many datasets. */
const MAX_COMPILED = 1_000;

/** Compiles a schema (or returns the cached one); throws an Error naming what Ajv refused. */
export function compileJsonSchema(schema: JsonSchema): JsonSchemaCheck {
  const key = JSON.stringify(schema);
  const cached = compiled.get(key);
  if (cached) return cached;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new Error(`json_schema scorer: invalid schema: ${(err as Error).message}`, { cause: err });
  } finally {
    // The compiled function keeps what it needs; unregistering lets another dataset reuse an `$id`
    // and keeps Ajv's own registry from growing.
    forget(schema);
  }
  const check: JsonSchemaCheck = (value) => (validate(value) ? null : describe(validate.errors?.[0]));
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, check);
  return check;
}

function forget(schema: JsonSchema): void {
  if (typeof schema !== 'object') return;
  try {
    ajv.removeSchema(schema);
  } catch {
    // Never registered (its `$id` did not parse): nothing to forget.
  }
}

/** `$.tags[0]: must be equal to one of the allowed values ["a","b"]`. */
function describe(error: ErrorObject | undefined): string {
  if (!error) return '$: does not match the schema';
  const where = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${acc}.${p}` : `${acc}[${JSON.stringify(p)}]`), '$');
  const allowed = error.keyword === 'enum' ? ` ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}` : '';
  const extra = error.keyword === 'additionalProperties' ? ` (${JSON.stringify((error.params as { additionalProperty: string }).additionalProperty)})` : '';
  return `${where}: ${error.message ?? error.keyword}${allowed}${extra}`;
}
