/**
 * The one validator of JSON option objects: experiment configs, strategy
 * options (read from the strategy registry) and nested blocks such as a
 * server optimizer. A {@link Shape} lists the allowed keys; {@link checkShape}
 * collects every problem (unknown key, missing key, wrong type, value out of
 * range or not among the valid ones) as `path: message` lines instead of
 * stopping at the first, so a user fixes a config in one pass.
 */

/** JSON kinds a field may have. */
export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'string|array' | 'object|array';

/** One allowed key of an option object. */
export interface Field {
  kind: FieldKind;
  required?: boolean;
  /** Valid values (strings or numbers). */
  enum?: readonly (string | number)[];
  min?: number;
  max?: number;
  /** `min` is exclusive (value must be > min). */
  exclusiveMin?: boolean;
  /** For kind 'object': the nested object's shape (validated recursively). */
  shape?: Shape;
  /** One line of help (usage texts, docs). */
  doc?: string;
}

/** Allowed keys of one option object. */
export type Shape = Record<string, Field>;

/** `v` is a plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How a value is named in messages: `an array`, `string "x"`, `number 3`. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function kindOk(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string|array':
      return typeof v === 'string' || Array.isArray(v);
    case 'object|array':
      return isObject(v) || Array.isArray(v);
  }
}

function kindWord(kind: FieldKind): string {
  if (kind === 'integer') return 'an integer';
  if (kind === 'object') return 'an object';
  if (kind === 'array') return 'an array';
  if (kind === 'string|array') return 'a string or an array';
  if (kind === 'object|array') return 'an object or an array of objects';
  return `a ${kind}`;
}

/**
 * Check `obj` against `shape`; append one message per problem to `problems`
 * (keys named by their dotted path under `path`). Returns `obj` as a record
 * (an empty one when it is not an object).
 */
export function checkShape(obj: unknown, shape: Shape, path: string, problems: string[]): Record<string, unknown> {
  if (!isObject(obj)) {
    problems.push(`${path || '(top level)'}: expected an object, got ${typeName(obj)}`);
    return {};
  }
  for (const key of Object.keys(obj)) {
    if (!(key in shape)) {
      problems.push(`${path ? `${path}.` : ''}${key}: unknown key (valid keys here: ${Object.keys(shape).filter((k) => k !== '$schema').join(', ') || 'none'})`);
    }
  }
  for (const [key, f] of Object.entries(shape)) {
    const p = path ? `${path}.${key}` : key;
    const v = obj[key];
    if (v === undefined) {
      if (f.required) problems.push(`${p}: required`);
      continue;
    }
    if (!kindOk(f.kind, v)) {
      problems.push(`${p}: expected ${kindWord(f.kind)}, got ${typeName(v)}`);
      continue;
    }
    if (f.enum && !f.enum.includes(v as string | number)) {
      problems.push(`${p}: unknown value ${JSON.stringify(v)}. Valid: ${f.enum.join(', ')}`);
    }
    if (typeof v === 'number') {
      if (f.min !== undefined && (f.exclusiveMin ? v <= f.min : v < f.min)) problems.push(`${p}: must be ${f.exclusiveMin ? '>' : '>='} ${f.min}, got ${v}`);
      if (f.max !== undefined && v > f.max) problems.push(`${p}: must be <= ${f.max}, got ${v}`);
    }
    if (f.kind === 'object' && f.shape) checkShape(v, f.shape, p, problems);
  }
  return obj;
}
