import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompletionsDto, SubmitJobsDto } from '../../src/delivery/dto/delivery.dto.js';
import { SchemaCheck } from '../../src/platform/http/schema-checked.js';
import { validationOptions } from '../../src/platform/http/validation.js';

/**
 * The compiled schema of a @SchemaChecked body is a shortcut past class-validator, so it must
 * never accept a body class-validator refuses. Random bodies near the edges of every rule (and
 * far outside them) are judged by both; valid ones must also take the shortcut.
 */
const classValidator = new ValidationPipe(validationOptions);
const schemas = new SchemaCheck([SubmitJobsDto, CompletionsDto]);
const acceptedByClassValidator = (metatype: object, body: unknown) =>
  classValidator.transform(body, { type: 'body', metatype: metatype as never }).then(
    () => true,
    () => false,
  );

/** Only what JSON can carry reaches the pipe. */
const wire = <T>(arb: fc.Arbitrary<T>) => arb.map((v) => JSON.parse(JSON.stringify(v ?? null)) as unknown);
const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 3 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
);
/** Mostly valid, now and then one of the ways to be wrong: so whole bodies are valid often enough. */
const near = <T>(valid: fc.Arbitrary<T>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ weight: 24, arbitrary: valid as fc.Arbitrary<unknown> }, ...wrong.map((arbitrary) => ({ weight: 1, arbitrary })));
const text = (max: number) =>
  near(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.constantFrom(
      '',
      '\uFE0F',
      'a\uFE0F',
      '😀',
      '\uD800',
      'x'.repeat(max),
      'x'.repeat(max + 1),
      `${'x'.repeat(max - 1)}😀`,
      `${'x'.repeat(max)}\uFE0F`,
    ),
    fc.string({ unit: 'grapheme', maxLength: 4 }),
    junk,
  );
const uuid = near(
  fc.uuid(),
  fc.constantFrom(
    '00000000-0000-0000-0000-000000000000',
    'urn:uuid:7b1b411a-1b17-4abf-943a-13ffec0ec496',
    '7B1B411A-1B17-4ABF-943A-13FFEC0EC496',
    '7b1b411a1b174abf943a13ffec0ec496',
    '{7b1b411a-1b17-4abf-943a-13ffec0ec496}',
  ),
  fc.string({ maxLength: 36 }),
  junk,
);
const int = (min: number, max: number) =>
  near(fc.integer({ min, max }), fc.constantFrom(min - 1, max + 1, 0.5, -0, 1e300, String(min)), junk);
/** An object now and then missing a property or carrying an unknown one; optional ones often left out. */
const record = (props: Record<string, fc.Arbitrary<unknown>>, optional: string[] = []) =>
  fc
    .tuple(
      fc.record(props),
      near(fc.constant(null), fc.constantFrom(...Object.keys(props))),
      near(fc.constant(null), fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'toString'), junk)),
      fc.boolean(),
    )
    .map(([o, drop, extra, dropOptional]) => {
      const out: Record<string, unknown> = { ...o };
      if (typeof drop === 'string') delete out[drop];
      if (dropOptional) for (const k of optional) delete out[k];
      if (Array.isArray(extra))
        Object.defineProperty(out, extra[0] as string, { value: extra[1], enumerable: true, writable: true, configurable: true });
      return out;
    });
const list = <T>(item: fc.Arbitrary<T>, max: number) =>
  near(
    fc.array(item, { minLength: 1, maxLength: 3 }),
    fc.constant([]),
    item.chain((i) => fc.constantFrom(max, max + 1).map((n) => Array.from({ length: n }, () => i))),
    junk,
  );

const message = near(
  record({ role: near(fc.constantFrom('system', 'user', 'assistant'), fc.constantFrom('tool', 'User', ''), junk), content: text(32_000) }),
  junk,
);
const job = near(
  record(
    {
      series: text(40),
      obligationId: uuid,
      modelClass: text(64),
      messages: list(message, 64),
      maxTokens: int(1, 1_000_000),
      region: text(64),
      callbackUrl: near(
        fc.constantFrom('https://b.example/h', 'http://x'),
        fc.constantFrom('ftp://x', 'https://a b', 'https://', 'https://x\n'),
        text(2000),
      ),
    },
    ['series', 'obligationId', 'region', 'callbackUrl'],
  ),
  junk,
);
const completion = near(
  record({
    jobId: uuid,
    leaseToken: text(64),
    usage: near(record({ prompt_tokens: int(0, 10_000_000), completion_tokens: int(0, 10_000_000) }), junk),
    ttftMs: int(0, 86_400_000),
    durationMs: int(0, 86_400_000),
    output: near(fc.string({ maxLength: 8 }), junk),
  }),
  junk,
);

describe('schema-checked bodies', () => {
  for (const [dto, body] of [
    [SubmitJobsDto, wire(near(record({ jobs: list(job, 100) }), junk))],
    [CompletionsDto, wire(near(record({ completions: list(completion, 256) }), junk))],
  ] as const) {
    it(`${dto.name}: the schema accepts only what class-validator accepts, and accepts what is valid`, async () => {
      let both = 0;
      let onlyClassValidator = 0;
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          const fast = schemas.accepts(dto, b);
          const slow = await acceptedByClassValidator(dto, b);
          if (fast) expect(slow, JSON.stringify(b).slice(0, 400)).toBe(true);
          if (fast && slow) both++;
          if (!fast && slow) onlyClassValidator++;
        }),
        { numRuns: 3_000 },
      );
      // The shortcut is taken by valid bodies (not everything falls through to class-validator).
      expect(both).toBeGreaterThan(50);
      expect(onlyClassValidator).toBeLessThan(both);
    });
  }

  it('refuses at start-up a DTO with a rule it cannot translate', () => {
    class Odd {}
    expect(() => new SchemaCheck([Odd])).toThrow(/no schema/);
  });
});
