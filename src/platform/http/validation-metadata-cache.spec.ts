import 'reflect-metadata';
import { getMetadataStorage, IsInt, IsString, validate } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { cacheValidationMetadata } from './validation-metadata-cache.js';

describe('cacheValidationMetadata', () => {
  it('answers a class rule lookup from the cache, and still sees rules registered later', async () => {
    cacheValidationMetadata();
    cacheValidationMetadata(); // idempotent: wrapping twice would not be
    class Quantity {
      @IsInt() n!: unknown;
    }
    const storage = getMetadataStorage();
    const first = storage.getTargetValidationMetadatas(Quantity, '', false, false);
    expect(storage.getTargetValidationMetadatas(Quantity, '', false, false)).toBe(first);
    expect(first.map((m) => m.propertyName)).toEqual(['n']);
    expect(await validate(Object.assign(new Quantity(), { n: 'x' }))).toHaveLength(1);

    // A class loaded after the first validations (its rules registered now) is seen whole.
    class Labelled extends Quantity {
      @IsString() label!: unknown;
    }
    const errors = await validate(Object.assign(new Labelled(), { n: 1.5, label: 3 }));
    expect(errors.map((e) => e.property).sort()).toEqual(['label', 'n']);
    expect(await validate(Object.assign(new Labelled(), { n: 2, label: 'ok' }))).toEqual([]);
  });
});
