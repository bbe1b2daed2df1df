// A small JSON Schema checker for the json_schema scorer: type, properties, required, enum,
// items, additionalProperties (boolean), minItems/maxItems. Enough to check that a model's answer
// has the shape a caller asked for, without a new dependency. Pure.

export interface JsonSchema {
  type?: JsonType | JsonType[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  items?: JsonSchema;
  additionalProperties?: boolean;
  minItems?: number;
  maxItems?: number;
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

const typeOf = (v: unknown): JsonType => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
};

const matchesType = (v: unknown, t: JsonType) => {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
};

/** Returns the first problem as `path: reason`, or null when the value conforms. */
export function checkJsonSchema(value: unknown, schema: JsonSchema, path = '$'): string | null {
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) return `${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path}: expected one of ${JSON.stringify(schema.enum)}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${path}: expected at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path}: expected at most ${schema.maxItems} items`;
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const problem = checkJsonSchema(value[i], schema.items, `${path}[${i}]`);
        if (problem) return problem;
      }
    }
  } else if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) return `${path}: missing required property "${key}"`;
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (key in obj) {
        const problem = checkJsonSchema(obj[key], sub, `${path}.${key}`);
        if (problem) return problem;
      }
    }
    if (schema.additionalProperties === false) {
      const extra = Object.keys(obj).find((k) => !(k in (schema.properties ?? {})));
      if (extra !== undefined) return `${path}: unexpected property "${extra}"`;
    }
  }
  return null;
}
