import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { DomainError } from './error-codes.js';
import { toProblem } from './problem.js';

describe('toProblem', () => {
  it('keeps a domain error code and its field errors', () => {
    const p = toProblem(new DomainError('OFF_TICK', 'price must be a multiple of 5 fen', [{ field: 'price', message: 'off tick' }]));
    expect(p).toMatchObject({ status: 400, code: 'OFF_TICK', errors: [{ field: 'price' }], type: expect.stringContaining('off-tick') });
  });

  it.each(['P2028', 'P2034', 'P1001', 'P2024'])('answers Prisma %s (busy or away database) with a retryable 503, not a 500', (code) => {
    expect(toProblem(Object.assign(new Error('x'), { code }))).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
  });

  it('answers a deadlock or serialization failure Postgres broke with a retryable 503, from pg or through Prisma raw SQL', () => {
    const pg = (code: string) => Object.assign(new Error('deadlock detected'), { code });
    const viaPrisma = (code: string) =>
      Object.assign(new Error('Raw query failed'), {
        code: 'P2010',
        meta: { driverAdapterError: { cause: { originalCode: code, originalMessage: 'x' } } },
      });
    for (const code of ['40P01', '40001']) {
      expect(toProblem(pg(code))).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(toProblem(viaPrisma(code))).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    }
    // Any other refusal of Postgres stays an internal error.
    expect(toProblem(viaPrisma('23505'))).toMatchObject({ status: 500, code: 'INTERNAL' });
  });

  it('keeps which dependency is down from a readiness failure', () => {
    const p = toProblem(new ServiceUnavailableException({ status: 'error', error: { redis: { status: 'down' } }, details: {} }));
    expect(p).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', error: { redis: { status: 'down' } } });
  });

  it('never leaks internals of an unknown failure', () => {
    const p = toProblem(new Error('connection string postgres://secret@db'));
    expect(p).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(JSON.stringify(p)).not.toContain('secret');
    expect(toProblem(new HttpException('teapot', 418))).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});
