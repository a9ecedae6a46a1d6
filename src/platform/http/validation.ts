import { ValidationPipe, type ArgumentMetadata, type ValidationError, type ValidationPipeOptions } from '@nestjs/common';
import { DomainError, type FieldError } from '../errors/error-codes.js';
import { SchemaCheck } from './schema-checked.js';
import { cacheValidationMetadata } from './validation-metadata-cache.js';

cacheValidationMetadata();

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

export const validationOptions: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  stopAtFirstError: false,
  exceptionFactory: (errors) => {
    const fields = flatten(errors);
    return new DomainError('VALIDATION_FAILED', fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields);
  },
};

/**
 * DTO validation: unknown fields are refused, every failing field is listed in `errors`. Bodies
 * of @SchemaChecked DTOs that their compiled schema accepts skip class-validator (and arrive as
 * the parsed JSON, not DTO instances); everything else, and every refusal, goes through it.
 */
export class TcValidationPipe extends ValidationPipe {
  private schemas?: SchemaCheck;

  constructor() {
    super(validationOptions);
  }

  /** Compiles the schemas of the @SchemaChecked DTOs (at start-up, once every module is loaded); throws if one cannot be. */
  prepare(): void {
    this.schemas ??= new SchemaCheck();
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    this.prepare();
    if (metadata.type === 'body' || metadata.type === 'query') {
      // Postgres text cannot hold U+0000: refused here, naming the field, rather than a 500 at the insert.
      const at = nulAt(value);
      if (at !== undefined) {
        const field = at || metadata.type;
        throw new DomainError('VALIDATION_FAILED', `${field}: may not contain the NUL character (U+0000)`, [
          { field, message: 'may not contain the NUL character (U+0000)' },
        ]);
      }
    }
    if (metadata.type === 'body' && this.schemas!.accepts(metadata.metatype, value)) return value;
    return super.transform(value, metadata);
  }
}

export const validationPipe = new TcValidationPipe();

/** The path of the first string (value or key) holding U+0000, '' for the value itself; undefined when none does. */
export function nulAt(value: unknown): string | undefined {
  return nulPath(value)?.reduce<string>((path, s) => (typeof s === 'number' ? `${path}[${s}]` : path ? `${path}.${s}` : s), '');
}

/**
 * The keys and indexes down to that string, gathered on the way back up once one is found: every
 * request body passes through here, and a path string built for every element it holds was a
 * large share of the allocations of a batch submission.
 */
function nulPath(value: unknown): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? [] : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulPath(value[i]);
      if (at) return [i, ...at];
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (k.includes('\u0000')) return [k];
      const at = nulPath((value as Record<string, unknown>)[k]);
      if (at) return [k, ...at];
    }
  }
  return undefined;
}
