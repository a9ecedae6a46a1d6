import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage, isUUID, length } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';

/**
 * A fast "yes" for the big request bodies (a batch of 100 jobs, 256 completions): class-validator
 * builds an instance and runs every rule object by object (~13 µs a job, a sixth of the API's CPU
 * under load); a JSON Schema compiled from the same decorators (class-validator-jsonschema → ajv)
 * checks the same body in a fraction of that. It only ever says yes: a body it refuses goes to
 * class-validator, whose verdict and messages stand, so the errors clients see do not change.
 *
 * For that to be safe the schema must never accept what class-validator refuses; so only the
 * rules listed in SUPPORTED are translated (a class with any other rule is refused at start-up),
 * lengths and UUIDs are checked with class-validator's own functions, regular expressions run
 * without the unicode flag as class-validator runs them, and unknown properties are refused
 * (the pipe's forbidNonWhitelisted). A property test compares both on random bodies.
 */
const SUPPORTED = new Set([
  'isString',
  'isLength',
  'isOptional',
  'isUuid',
  'isInt',
  'min',
  'max',
  'isIn',
  'isBoolean',
  'matches',
  'arrayMinSize',
  'arrayMaxSize',
  'nestedValidation',
]);

const registered = new Set<object>();

/** Marks a body DTO for the schema check (its nested DTOs come along through their @Type). */
export function SchemaChecked(): ClassDecorator {
  return (target) => {
    registered.add(target);
  };
}

type Json = Record<string, unknown>;

/** class-validator's rule names of a class and of the classes nested in it. */
function rulesOf(target: object, seen = new Set<object>()): string[] {
  if (seen.has(target)) return [];
  seen.add(target);
  const rules = getMetadataStorage().getTargetValidationMetadatas(target as new () => unknown, '', true, false);
  const names = rules.map((r) => (r.type === 'nestedValidation' ? 'nestedValidation' : (r.name ?? r.type)));
  const nested = rules.flatMap((r) => {
    if (r.type !== 'nestedValidation') return [];
    const type = defaultMetadataStorage.findTypeMetadata(target as new () => unknown, r.propertyName);
    return type ? rulesOf(type.typeFunction(), seen) : ['nestedValidation without @Type'];
  });
  return [...names, ...nested];
}

/** Lengths as class-validator counts them; unknown properties refused; every property constrained. */
function tighten(node: Json, where: string): Json {
  const out: Json = { ...node };
  if (out.type === 'object') out.additionalProperties = false;
  if ('minLength' in out || 'maxLength' in out) {
    out.cvLength = [out.minLength ?? 0, out.maxLength];
    delete out.minLength;
    delete out.maxLength;
  }
  if (out.format !== undefined && out.format !== 'uuid')
    throw new Error(`${where}: format ${JSON.stringify(out.format)} has no class-validator twin`);
  if (out.format === 'uuid') {
    delete out.format;
    out.cvUuid = true;
  }
  if (out.properties)
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, Json>).map(([k, v]) => [k, tighten(v, `${where}.${k}`)]),
    );
  if (out.items) out.items = tighten(out.items as Json, `${where}[]`);
  if (out.type === undefined && out.$ref === undefined) throw new Error(`${where}: no type in the schema (${JSON.stringify(node)})`);
  return out;
}

export class SchemaCheck {
  private readonly checks = new Map<object, ValidateFunction>();

  constructor(classes: Iterable<object> = registered) {
    const targets = [...classes];
    if (targets.length === 0) return;
    for (const target of targets) {
      const unknown = rulesOf(target).filter((r) => !SUPPORTED.has(r));
      if (unknown.length > 0)
        throw new Error(`${(target as { name: string }).name}: rules ${unknown.join(', ')} cannot be checked by schema`);
    }
    const all = validationMetadatasToSchemas({
      refPointerPrefix: '#/definitions/',
      classTransformerMetadataStorage: defaultMetadataStorage,
    }) as Record<string, Json>;
    // The registered classes and the classes they nest, nothing else.
    const definitions: Record<string, Json> = {};
    const add = (name: string) => {
      if (definitions[name]) return;
      if (!all[name]) throw new Error(`${name}: no schema`);
      definitions[name] = tighten(all[name], name);
      for (const [, ref] of JSON.stringify(all[name]).matchAll(/#\/definitions\/(\w+)/g)) add(ref);
    };
    for (const target of targets) add((target as { name: string }).name);
    const ajv = new Ajv({ allErrors: false, strict: false, unicodeRegExp: false, validateFormats: false });
    ajv.addKeyword({
      keyword: 'cvLength',
      type: 'string',
      schemaType: 'array',
      validate: ([min, max]: [number, number | undefined], s: string) => length(s, min, max),
    });
    ajv.addKeyword({ keyword: 'cvUuid', type: 'string', schemaType: 'boolean', validate: (_: boolean, s: string) => isUUID(s) });
    ajv.addSchema({ $id: 'dto', definitions } as AnySchema);
    for (const target of targets) this.checks.set(target, ajv.compile({ $ref: `dto#/definitions/${(target as { name: string }).name}` }));
  }

  /** True when `value` is a body of `target` class-validator would accept as it is; false means "ask class-validator". */
  accepts(target: unknown, value: unknown): boolean {
    const check = typeof target === 'function' ? this.checks.get(target) : undefined;
    return check !== undefined && check(value) === true;
  }
}
