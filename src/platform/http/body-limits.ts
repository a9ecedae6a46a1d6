import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { DomainError } from '../errors/error-codes.js';

/**
 * JSON body limits derived from the body DTOs (SPEC §6.2: "body limits fit the largest valid body
 * of every endpoint"). The largest valid body of a DTO is what JSON.stringify writes for the worst
 * valid value: every optional property present, arrays at maxItems, numbers at their longest, and
 * strings at maxLength characters of the most expensive kind — a control character, written as
 * `\u00XX`, 6 bytes (a lone surrogate too; anything else is at most 4 bytes a character).
 *
 * Lengths are counted as class-validator counts them, which ignores the emoji presentation
 * selectors U+FE0E/U+FE0F: a string padded with those is longer than any bound and is refused 413.
 *
 * Where the maxima multiply into something unreasonable (a batch of 100 jobs of 64 messages of
 * 32,000 characters is over a gigabyte), the DTO declares a character budget with @CharBudget:
 * all its strings together hold at most that many characters (checked by the service, 400), and
 * its bound is its skeleton (strings empty) plus the budget at 6 bytes a character. A body bound
 * over MAX_REASONABLE_BODY without a budget stops the app at start, so the limit stays finite.
 */

export const BYTES_PER_CHAR = 6;
/** No route's limit may exceed this: a DTO whose maxima reach past it needs a @CharBudget. */
export const MAX_REASONABLE_BODY = 16 * 1024 * 1024;
/**
 * The least limit of any route: routes without a JSON body DTO still parse `{}` and small stray
 * bodies (then ignore them), and a small body with an unknown field is answered 400 naming the
 * field rather than 413 — a kilobyte costs nothing to read.
 */
export const NO_BODY_LIMIT = 1024;
/** The longest JSON.stringify of a number (e.g. -1.7976931348623157e+308). */
const LONGEST_NUMBER = 24;
/**
 * An untyped property (@Allow): in our DTOs only money amounts, currencies and quantities, which
 * their parsers accept only as canonical decimal strings of at most 20 characters ("92233720368547758.07"),
 * "CNY" or a number — 64 bytes holds any of them.
 */
const UNTYPED_FIELD = 64;

const BUDGETS = new Map<object, number>();

/** All strings of the DTO (and what it nests) hold at most `chars` characters together (UTF-16 units). */
export function CharBudget(chars: number): ClassDecorator {
  return (target) => {
    BUDGETS.set(target, chars);
  };
}

export function charBudgetOf(target: object): number | undefined {
  return BUDGETS.get(target);
}

/** UTF-16 units of every string in `value`, keys excluded: what a @CharBudget counts. */
export function charsOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + charsOf(v), 0);
  if (value && typeof value === 'object') return Object.values(value).reduce((n: number, v) => n + charsOf(v), 0);
  return 0;
}

/**
 * A body's @CharBudget (see body-limits.ts): over it → 400 naming the field that carries the text;
 * or 413 where the client cuts its bodies on 413 (the agent's completion reports).
 */
export function assertWithinBudget(
  body: unknown,
  budget: number,
  field: string,
  code: 'VALIDATION_FAILED' | 'PAYLOAD_TOO_LARGE' = 'VALIDATION_FAILED',
): void {
  const chars = charsOf(body);
  if (chars > budget)
    throw new DomainError(code, `${field}: at most ${budget} characters of text in all, got ${chars}`, [
      { field, message: `at most ${budget} characters in all` },
    ]);
}

type Json = Record<string, unknown>;

export class BodyBounds {
  private readonly schemas: Record<string, Json>;
  private readonly classes = new Map<string, object>();

  constructor() {
    this.schemas = validationMetadatasToSchemas({
      refPointerPrefix: '#/definitions/',
      classTransformerMetadataStorage: defaultMetadataStorage,
    }) as Record<string, Json>;
  }

  /** Largest valid body of `dto` in bytes; throws naming the property where it is unbounded. */
  of(dto: { name: string }): number {
    this.classes.set(dto.name, dto);
    return this.bound({ $ref: `#/definitions/${dto.name}` }, dto.name, false);
  }

  /** A class's schema; a subclass that adds no rule has none of its own and is its parent's. */
  private schemaOf(name: string): Json {
    let target = this.classes.get(name) ?? classByName(name);
    let s = this.schemas[name];
    while (!s && typeof target === 'function' && target !== Function.prototype) {
      target = Object.getPrototypeOf(target) as object;
      s = this.schemas[(target as { name?: string }).name ?? ''];
    }
    if (!s) throw new Error(`${name}: no validation schema`);
    return s;
  }

  private bound(node: Json, where: string, emptyStrings: boolean): number {
    if (typeof node.$ref === 'string') {
      const name = node.$ref.replace('#/definitions/', '');
      const target = this.classes.get(name) ?? classByName(name);
      const budget = target ? BUDGETS.get(target) : undefined;
      const schema = this.schemaOf(name);
      if (emptyStrings || budget === undefined) return this.bound(schema, name, emptyStrings);
      // Within a budget: its skeleton plus the budget, or its own maxima if those are smaller.
      return Math.min(this.boundOrInfinity(schema, name), this.bound(schema, name, true) + budget * BYTES_PER_CHAR);
    }
    if (Array.isArray(node.enum)) return Math.max(...node.enum.map((v) => JSON.stringify(v).length));
    switch (node.type) {
      case 'string': {
        if (emptyStrings) return 2;
        if (node.format === 'uuid') return 38;
        const bounds = [node.maxLength, typeof node.pattern === 'string' ? patternMaxLength(node.pattern) : undefined].filter(
          (n): n is number => typeof n === 'number' && Number.isFinite(n),
        );
        if (bounds.length === 0) throw new Error(`${where}: a string without maxLength (or an anchored, bounded pattern)`);
        return 2 + Math.min(...bounds) * BYTES_PER_CHAR;
      }
      case 'integer':
      case 'number': {
        if (typeof node.minimum === 'number' && typeof node.maximum === 'number')
          return Math.max(JSON.stringify(node.minimum).length, JSON.stringify(node.maximum).length);
        return LONGEST_NUMBER;
      }
      case 'boolean':
        return 5;
      case 'array': {
        if (typeof node.maxItems !== 'number') throw new Error(`${where}: an array without maxItems`);
        const item = this.bound((node.items as Json | undefined) ?? {}, `${where}[]`, emptyStrings);
        return 2 + node.maxItems * item + Math.max(0, node.maxItems - 1);
      }
      case 'object': {
        const props = Object.entries((node.properties as Record<string, Json> | undefined) ?? {});
        const members = props.map(([k, v]) => JSON.stringify(k).length + 1 + Math.max(4, this.bound(v, `${where}.${k}`, emptyStrings)));
        return 2 + members.reduce((a, b) => a + b, 0) + Math.max(0, members.length - 1);
      }
      case undefined:
        if (Object.keys(node).length === 0) return UNTYPED_FIELD;
        throw new Error(`${where}: no type to bound (${JSON.stringify(node)})`);
      default:
        throw new Error(`${where}: no type to bound (${JSON.stringify(node)})`);
    }
  }

  private boundOrInfinity(node: Json, where: string): number {
    try {
      return this.bound(node, where, false);
    } catch {
      return Infinity;
    }
  }
}

/**
 * The most UTF-16 units an anchored pattern (^…$) can match; Infinity when it has no bound (*, +,
 * {n,}, or not anchored at both ends). Understands what our DTOs use: literals, escapes, classes,
 * groups with alternatives and the counted quantifiers.
 */
export function patternMaxLength(pattern: string): number {
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$')) return Infinity;
  const src = pattern.slice(1, -1);
  let i = 0;
  const alternatives = (): number => {
    let best = sequence();
    while (src[i] === '|') {
      i++;
      best = Math.max(best, sequence());
    }
    return best;
  };
  const sequence = (): number => {
    let total = 0;
    while (i < src.length && src[i] !== '|' && src[i] !== ')') total += quantified(atom());
    return total;
  };
  const atom = (): number => {
    const c = src[i++];
    if (c === '(') {
      let width = 1;
      if (src[i] === '?') {
        const kind = src.slice(i, i + 2);
        i += 2;
        if (kind === '?=' || kind === '?!') width = 0;
      }
      const inner = alternatives();
      if (src[i++] !== ')') return Infinity;
      return inner * width;
    }
    if (c === '[') {
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      i++;
      return 1;
    }
    if (c === '\\') {
      const e = src[i++];
      return e === 'b' || e === 'B' ? 0 : 1;
    }
    if (c === '^' || c === '$') return 0;
    return 1;
  };
  const quantified = (width: number): number => {
    const q = src[i];
    let times = 1;
    if (q === '*' || q === '+') return (i++, width === 0 ? 0 : Infinity);
    if (q === '?') i++;
    else if (q === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (!m) return width;
      i += m[0].length;
      times = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    }
    if (src[i] === '?') i++;
    return width === 0 ? 0 : width * times;
  };
  const max = alternatives();
  return i === src.length ? max : Infinity;
}

/** A DTO class by name, from class-validator's registry (nested DTOs are met by their $ref). */
function classByName(name: string): object | undefined {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<object, unknown> | { target: object }[] };
  const metas = storage.validationMetadatas;
  const targets = metas instanceof Map ? [...metas.keys()] : metas.map((m) => m.target);
  return targets.find((t) => typeof t === 'function' && (t as { name: string }).name === name);
}

export interface RouteLimit {
  method: string;
  path: string;
  /** The @Body DTO, or null when the route takes no JSON body. */
  dto: string | null;
  limit: number;
}

/** Every route of the given controllers with its JSON body limit. */
export function routeLimits(controllers: object[]): RouteLimit[] {
  const bounds = new BodyBounds();
  const out: RouteLimit[] = [];
  const problems: string[] = [];
  for (const instance of controllers) {
    const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
    const ctor = proto.constructor as new () => unknown;
    const base = String(Reflect.getMetadata(PATH_METADATA, ctor) ?? '');
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const handler = proto[name];
      if (typeof handler !== 'function') continue;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (path === undefined || method === undefined) continue;
      const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/');
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, ctor, name) ?? {}) as Record<string, { index: number }>;
      const bodyArg = Object.entries(args).find(([k]) => k.split(':')[0] === String(RouteParamtypes.BODY))?.[1];
      const types = (Reflect.getMetadata('design:paramtypes', proto, name) ?? []) as unknown[];
      const dto = bodyArg ? types[bodyArg.index] : undefined;
      const isDto =
        typeof dto === 'function' &&
        dto !== Object &&
        getMetadataStorage().getTargetValidationMetadatas(dto as new () => unknown, '', true, false).length > 0;
      let limit = NO_BODY_LIMIT;
      try {
        if (isDto) limit = Math.max(NO_BODY_LIMIT, bounds.of(dto as { name: string }));
      } catch (err) {
        problems.push(`${RequestMethod[method]} ${full}: ${(err as Error).message}`);
        continue;
      }
      if (limit > MAX_REASONABLE_BODY)
        throw new Error(
          `${RequestMethod[method]} ${full}: its largest valid body is ${limit} bytes; give ${(dto as { name: string }).name} a @CharBudget`,
        );
      out.push({ method: RequestMethod[method], path: full, dto: isDto ? (dto as { name: string }).name : null, limit });
    }
  }
  if (problems.length > 0) throw new Error(`request bodies without a finite largest size:\n${problems.join('\n')}`);
  return out;
}

/**
 * Matches a request to its routes' limit: the largest of those whose pattern matches (never refuse
 * a valid body). Literal paths are one map lookup; only routes with parameters are tried as patterns,
 * those of the request's method alone — it runs before every request.
 */
export function limitFinder(routes: RouteLimit[]): (method: string, path: string) => number | undefined {
  const literal = new Map<string, number>();
  const patterns = new Map<string, { re: RegExp; limit: number }[]>();
  for (const r of routes) {
    if (!r.path.includes(':')) {
      const key = `${r.method} ${r.path}`;
      literal.set(key, Math.max(literal.get(key) ?? 0, r.limit));
      continue;
    }
    const re = new RegExp(`^${r.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`);
    const list = patterns.get(r.method) ?? [];
    if (list.length === 0) patterns.set(r.method, list);
    list.push({ re, limit: r.limit });
  }
  return (method, path) => {
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    let best = literal.get(`${method} ${trimmed}`);
    for (const c of patterns.get(method) ?? []) if (c.re.test(path)) best = Math.max(best ?? 0, c.limit);
    return best;
  };
}
