import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexFixingStaffView, IndexFixingView, TokenIndexView } from '../../src/indices/index-fixing.view.js';
import { IndexFixingHandler } from '../../src/indices/index-fixing.handler.js';
import { eodPattern, schedules } from '../../src/platform/queues/job-registry.js';
import { Clock } from '../../src/platform/time/clock.js';
import type { SettlementRunView } from '../../src/settlement/settlement-run.view.js';
import { createClearingUser, createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { waitForRun } from '../harness/settlement-helpers.js';
import { assertBuilt, childEnv, ROOT, spawnNode } from '../harness/processes.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const M = 1_000_000n;
type Run = { indexCode: string; businessDate: string; created: boolean; fixing: IndexFixingStaffView | null };
type FixingsPage = { items: IndexFixingView[]; nextCursor: string | null };

/**
 * The token index end to end over HTTP (docs/index-methodology.md). Trades are placed as orders;
 * deliveries are obligations and usage records inserted directly (the delivery pipeline is not
 * what is under test: the index reads usage_records.creditedTokens by createdAt).
 * Minimum volume 50M tokens; contracts of 10M tokens; no fees.
 */
describe('token index: fixings, fallbacks, corrections, cash expiry, hash chain', () => {
  let t: TestApp;
  let clock: Clock;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  let oseq = 0;
  const ids: Record<string, string> = {};

  /** An obligation of a series at a price, with tokens credited at the given instants. */
  async function delivered(seriesCode: string, priceFen: bigint, parts: { tokens: bigint; at: string }[]): Promise<string> {
    const series = await t.prisma.series.findUniqueOrThrow({ where: { code: seriesCode } });
    const tokens = parts.reduce((s, p) => s + p.tokens, 0n);
    const o = await t.prisma.deliveryObligation.create({
      data: {
        seriesId: series.id,
        seq: ++oseq,
        sellerId: randomUUID(),
        buyerId: randomUUID(),
        contracts: Number(tokens / (10n * M)),
        tokens,
        priceFen,
        notionalFen: (priceFen * tokens) / M,
        deliveredTokens: tokens,
        status: 'OPEN',
      },
    });
    for (const p of parts)
      await t.prisma.usageRecord.create({
        data: {
          jobId: randomUUID(),
          obligationId: o.id,
          nodeId: randomUUID(),
          operatorId: randomUUID(),
          promptTokens: 0n,
          completionTokens: p.tokens,
          billableTokens: p.tokens,
          creditedTokens: p.tokens,
          excessTokens: 0n,
          releasedFen: 0n,
          ttftMs: 100,
          durationMs: 1_000,
          ttftBreach: false,
          rateBreach: false,
          createdAt: new Date(p.at),
        },
      });
    return o.id;
  }

  async function trade(seller: TestMember, buyer: TestMember, series: string, price: string, qty: number): Promise<string> {
    expect((await order(seller, series, 'SELL', price, qty)).status).toBe(201);
    const buy = await order(buyer, series, 'BUY', price, qty);
    expect(buy.status, buy.text).toBe(201);
    expect(buy.body.trades).toHaveLength(1);
    return buy.body.trades[0].id;
  }

  const run = (code: string, businessDate?: string) =>
    t.clearing.post<Run>(`/v1/indices/${code}/fixings/run`, businessDate ? { businessDate } : {});
  const publicFixings = (code: string, query = '') => t.client().get<FixingsPage>(`/v1/indices/${code}/fixings${query}`);

  beforeAll(async () => {
    t = await startTestApp({ env: { INDEX_MIN_VOLUME_TOKENS: '50000000' } });
    clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T02:00:00Z')); // 10:00 Shanghai, business date 2026-12-01
    [a, b, c] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [a, b, c]) await fund(t, m, '1000.00');
    const month = (code: string, lastTradingAt: string, deliveryStart: string, deliveryEnd: string) => ({
      code,
      lastTradingAt,
      deliveryStart,
      deliveryEnd,
    });
    const p8 = await createProduct(t, { modelClass: 'llm-8b-instruct', feePerContractFen: 0, indexCode: 'TTI-8B' });
    await createSeries(t, p8, month('I8-DEC', '2026-12-20T07:00:00Z', '2026-12-21T00:00:00Z', '2026-12-31T00:00:00Z'));
    await createSeries(t, p8, month('I8-JAN', '2027-01-20T07:00:00Z', '2027-01-21T00:00:00Z', '2027-01-31T00:00:00Z'));
    // A physical 8B series delivering today and ending before the cut-off: its deliveries are prints,
    // but it is not the front month (its delivery has ended at the day's end).
    const x8 = await createProduct(t, { modelClass: 'llm-8b-instruct', settlementType: 'PHYSICAL', feePerContractFen: 0 });
    await createSeries(t, x8, month('X8-D1', '2026-12-01T02:30:00Z', '2026-12-01T02:30:00Z', '2026-12-01T06:00:00Z'));
    const p400 = await createProduct(t, { modelClass: 'llm-400b-moe', feePerContractFen: 0, indexCode: 'TTI-400B' });
    await createSeries(t, p400, month('I400-DEC', '2026-12-20T07:00:00Z', '2026-12-21T00:00:00Z', '2026-12-31T00:00:00Z'));
    const x400 = await createProduct(t, { modelClass: 'llm-400b-moe', settlementType: 'PHYSICAL', feePerContractFen: 0 });
    await createSeries(t, x400, month('X400-D', '2026-12-01T02:30:00Z', '2026-12-01T02:30:00Z', '2026-12-02T06:00:00Z'));
    const p70 = await createProduct(t, { modelClass: 'llm-70b-instruct', feePerContractFen: 0, indexCode: 'TTI-70B' });
    ids.p70 = p70;
    // Cash series expiring 2026-12-03 14:00 Shanghai (business date 12-03), and a deferred month.
    await createSeries(t, p70, month('I70-X', '2026-12-03T06:00:00Z', '2026-12-03T06:00:00Z', '2026-12-04T06:00:00Z'));
    // Same product, same expiry, no trades: clearing records a fixing for it, which wins over the index.
    await createSeries(t, p70, month('I70-Y', '2026-12-03T06:00:00Z', '2026-12-03T06:00:00Z', '2026-12-04T06:00:00Z'));
    await createSeries(t, p70, month('I70-JAN', '2027-01-20T07:00:00Z', '2027-01-21T00:00:00Z', '2027-01-31T00:00:00Z'));
  });
  afterAll(() => t.close());

  it('a CASH product may name an index of its model class; anything else is refused', async () => {
    const product = await t.clearing.get<{ items: { code: string; indexCode: string | null }[] }>('/v1/products?limit=500');
    expect(product.body.items.find((p) => p.code === ids.p70)).toMatchObject({ indexCode: 'TTI-70B' });
    const base = {
      modelClass: 'llm-70b-instruct',
      contractSizeTokens: 10_000_000,
      tickFen: 1,
      initialMarginBp: 1000,
      maintenanceMarginBp: 750,
    };
    const rest = {
      feePerContractFen: 0,
      penaltyBp: 0,
      maxTtftMs: 2000,
      minTokensPerSecond: 1,
      regions: ['cn-east-1'],
      inputTokenWeightBp: 0,
    };
    const create = (code: string, extra: Record<string, unknown>) => t.clearing.post('/v1/products', { code, ...base, ...rest, ...extra });
    expectProblem(await create('BAD-IDX-1', { settlementType: 'CASH', indexCode: 'TTI-1T' }), 400, 'UNKNOWN_INDEX');
    expectProblem(await create('BAD-IDX-2', { settlementType: 'PHYSICAL', indexCode: 'TTI-70B' }), 400, 'INVALID_PRODUCT');
    expectProblem(await create('BAD-IDX-3', { settlementType: 'CASH', indexCode: 'TTI-8B' }), 400, 'INVALID_PRODUCT');
  });

  it('fixes a day by hand-checked arithmetic: front month in full, deferred at half, delivery prints, to the nearest fen', async () => {
    // 2026-12-01, TTI-8B (llm-8b-instruct), contracts of 10M tokens:
    //   front month I8-DEC: 1 × 4.00 (10M, weight 10M), 3 × 4.20 (30M, weight 30M)
    //   deferred I8-JAN:    2 × 5.00 (20M, weight 10M)
    //   delivery X8-D1:     20M tokens delivered at 3.93 (weight 20M)
    // Σ p·w = 400·10 + 420·30 + 500·10 + 393·20 = 4,000 + 12,600 + 5,000 + 7,860 = 29,460 (×1M)
    // Σ w = 70 (×1M) → 420.857… fen → 421 fen = 4.21; volume 10 + 30 + 20 + 20 = 80M tokens.
    const t1 = await trade(a, b, 'I8-DEC', '4.00', 1);
    const t2 = await trade(a, b, 'I8-DEC', '4.20', 3);
    const t3 = await trade(a, b, 'I8-JAN', '5.00', 2);
    const o1 = await delivered('X8-D1', 393n, [{ tokens: 20n * M, at: '2026-12-01T03:00:00Z' }]);
    // TTI-400B: 5M delivered on 12-01 (too thin, nothing before it: no fixing), then on 12-02 10M
    // at the cut-off instant itself (15:00 Shanghai belongs to 12-02) and 50M more.
    ids.o2 = await delivered('X400-D', 380n, [
      { tokens: 5n * M, at: '2026-12-01T06:59:59Z' },
      { tokens: 10n * M, at: '2026-12-01T07:00:00Z' },
      { tokens: 50n * M, at: '2026-12-02T03:00:00Z' },
    ]);

    expectProblem(await run('TTI-8B', '2026-12-01'), 409, 'BUSINESS_DAY_NOT_ENDED');
    clock.set(new Date('2026-12-02T02:00:00Z'));
    const fixed = await run('TTI-8B', '2026-12-01');
    expect(fixed.status, fixed.text).toBe(201);
    expect(fixed.body).toMatchObject({ indexCode: 'TTI-8B', businessDate: '2026-12-01', created: true });
    expect(fixed.body.fixing).toMatchObject({
      businessDate: '2026-12-01',
      price: '4.21',
      currency: 'CNY',
      method: 'TRADES',
      volumeTokens: 80_000_000,
      inputs: { trades: [t1, t2, t3], obligations: [o1] },
      status: 'PUBLISHED',
      chainSeq: 1,
      prevHash: null,
      correctsId: null,
      effective: true,
    });
    expect(fixed.body.fixing!.hash).toMatch(/^[0-9a-f]{64}$/);
    ids.f8d1 = fixed.body.fixing!.id;
    // Idempotent per index and date: the same fixing, nothing new.
    const again = await run('TTI-8B', '2026-12-01');
    expect(again.body).toMatchObject({ created: false, fixing: { id: ids.f8d1, price: '4.21' } });
    expect(await t.prisma.tokenIndexFixing.count({ where: { indexCode: 'TTI-8B' } })).toBe(1);
    // Nothing to fix from (5M delivered, no trade, no earlier fixing): none published.
    expect((await run('TTI-400B', '2026-12-01')).body).toMatchObject({ created: false, fixing: null });
    expectProblem(await run('TTI-8B', '2026-12-02'), 409, 'BUSINESS_DAY_NOT_ENDED');
    expectProblem(await run('TTI-1T', '2026-12-01'), 404, 'NOT_FOUND');
    // Without a date: the business date that ended last.
    expect((await run('TTI-8B')).body).toMatchObject({ businessDate: '2026-12-01', created: false });
    expectProblem(await t.client(a.key).post('/v1/indices/TTI-8B/fixings/run', {}), 403, 'FORBIDDEN_ROLE');
  });

  it('is scheduled at each cut-off through the job registry, and thin days fall back: DELIVERIES, then PREVIOUS', async () => {
    const job = schedules({ ...t.config, eodCutoff: '15:00' }).find((s) => s.job === 'indices.fixing')!;
    expect(job.repeat).toEqual({ pattern: eodPattern('15:00') });
    // The cut-off of 2026-12-02: the job fixes every index for the day that just ended.
    clock.set(new Date('2026-12-02T07:00:00Z'));
    const atCutoff = await t.app.get(IndexFixingHandler).atCutoff();
    expect(atCutoff.businessDate).toBe('2026-12-02');
    const on = async (code: string, day: string) => (await publicFixings(code, `?from=${day}&to=${day}`)).body.items;
    // TTI-400B: no trade; 60M tokens delivered at 3.80 reach the minimum alone.
    expect(await on('TTI-400B', '2026-12-02')).toEqual([
      expect.objectContaining({
        method: 'DELIVERIES',
        price: '3.80',
        volumeTokens: 60_000_000,
        inputs: { trades: [], obligations: [ids.o2] },
      }),
    ]);
    // TTI-8B: no print at all: yesterday's fixing carried.
    expect(await on('TTI-8B', '2026-12-02')).toEqual([
      expect.objectContaining({
        method: 'PREVIOUS',
        price: '4.21',
        volumeTokens: 0,
        inputs: { trades: [], obligations: [], previous: ids.f8d1 },
      }),
    ]);
    expect(await on('TTI-70B', '2026-12-02')).toEqual([]);
    ids.f400d2 = (await on('TTI-400B', '2026-12-02'))[0].id;

    // 2026-12-03: one thin 400B trade (10M < 50M, no delivery) → PREVIOUS; the 70B trades below.
    clock.set(new Date('2026-12-03T02:00:00Z'));
    await trade(c, a, 'I400-DEC', '4.50', 1);
    ids.e1 = await trade(a, b, 'I70-X', '4.00', 2);
    ids.e2 = await trade(a, b, 'I70-X', '4.10', 3);
    ids.e3 = await trade(c, a, 'I70-JAN', '4.50', 4);
    // Past last trading, before the cut-off: no fixing of 12-03 yet, none recorded by clearing.
    clock.set(new Date('2026-12-03T06:30:00Z'));
    expectProblem(await t.clearing.post('/v1/settlement/runs', { type: 'EXPIRY', series: 'I70-X' }), 409, 'INDEX_FIXING_MISSING');
    clock.set(new Date('2026-12-03T07:00:00Z'));
    await t.app.get(IndexFixingHandler).atCutoff();
    await t.app.get(IndexFixingHandler).atCutoff(); // a retried job changes nothing
    expect(await on('TTI-400B', '2026-12-03')).toEqual([
      expect.objectContaining({
        method: 'PREVIOUS',
        price: '3.80',
        volumeTokens: 0,
        inputs: { trades: [], obligations: [], previous: ids.f400d2 },
      }),
    ]);
    // TTI-70B on 12-03: I70-X is the front month (delivering past the cut-off), I70-JAN deferred.
    // Σ p·w = 400·20 + 410·30 + 450·20 (40M at half) = 8,000 + 12,300 + 9,000 = 29,300; Σ w = 70 → 418.57 → 4.19.
    expect(await on('TTI-70B', '2026-12-03')).toEqual([
      expect.objectContaining({
        method: 'TRADES',
        price: '4.19',
        volumeTokens: 90_000_000,
        inputs: { trades: [ids.e1, ids.e2, ids.e3], obligations: [] },
      }),
    ]);
    expect(await t.prisma.tokenIndexFixing.count()).toBe(6);
  });

  it('publishes without a key: the indices with their latest effective fixing, paged fixings chained by hash, the methodology', async () => {
    const list = await t.client().get<{ items: TokenIndexView[]; nextCursor: null }>('/v1/indices');
    expect(list.status).toBe(200);
    expect(list.headers.get('cache-control')).toBe('public, max-age=5');
    expect(list.body.items.map((i) => [i.code, i.modelClass, i.latest?.businessDate, i.latest?.price])).toEqual([
      ['TTI-400B', 'llm-400b-moe', '2026-12-03', '3.80'],
      ['TTI-70B', 'llm-70b-instruct', '2026-12-03', '4.19'],
      ['TTI-8B', 'llm-8b-instruct', '2026-12-03', '4.21'],
    ]);
    expect(list.body.nextCursor).toBeNull();

    const all = await publicFixings('TTI-8B');
    expect(all.status).toBe(200);
    expect(all.body.items.map((f) => f.businessDate)).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(all.body.nextCursor).toBeNull();
    for (let i = 1; i < all.body.items.length; i++) expect(all.body.items[i].prevHash).toBe(all.body.items[i - 1].hash);
    // No staff or member fields on the public view.
    expect(Object.keys(all.body.items[0]).sort()).toEqual(
      [
        'businessDate',
        'chainSeq',
        'correctedBy',
        'correctsId',
        'currency',
        'effective',
        'hash',
        'id',
        'indexCode',
        'inputs',
        'method',
        'prevHash',
        'price',
        'publishedAt',
        'reason',
        'status',
        'volumeTokens',
      ].sort(),
    );
    // Paged: nextCursor exactly when more rows remain; following it gives every row once.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: FixingsPage = (await publicFixings('TTI-8B', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.items.map((f) => f.businessDate));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(pages).toBe(2);
    expect((await publicFixings('TTI-8B', '?from=2026-12-02&to=2026-12-02')).body.items).toHaveLength(1);
    expectProblem(await publicFixings('TTI-8B', '?from=2026-13-01'), 400, 'VALIDATION_FAILED');
    expectProblem(await publicFixings('TTI-8B', '?from=2026-12-03&to=2026-12-01'), 400, 'VALIDATION_FAILED');
    expectProblem(await publicFixings('TTI-1T'), 404, 'NOT_FOUND');

    const doc = await t.client().get('/v1/indices/methodology');
    expect(doc.status).toBe(200);
    expect(doc.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(doc.text).toContain('# TokenClear token index — methodology');
    const openapi = await t.client().get<{ paths: Record<string, Record<string, { summary?: string }>> }>('/openapi.json');
    expect(openapi.body.paths['/v1/indices'].get.summary).toContain('/v1/indices/methodology');
  });

  it('settles a CASH series with an indexCode on its index fixing of the last trading date when clearing recorded none', async () => {
    // b bought 2 at 4.00 and 3 at 4.10 of I70-X (last trading 12-03 14:00 Shanghai); TTI-70B fixed 4.19 on 12-03.
    // Final VM to b: (2 × (419 − 400) + 3 × (419 − 410)) × 10 (10M-token contracts) = (38 + 27) × 10 = 650 fen = +6.50.
    const fen = (x: string) => BigInt(x.replace('.', ''));
    const total = async (m: TestMember) => {
      const bal = (await m.client.get<{ cash: string; margin: string }>(`/v1/members/${m.id}/balances`)).body;
      return { total: fen(bal.cash) + fen(bal.margin), margin: bal.margin };
    };
    const before = await total(b);
    const res = await t.clearing.post<SettlementRunView>('/v1/settlement/runs', { type: 'EXPIRY', series: 'I70-X' });
    expect(res.status, res.text).toBe(201);
    const done = (await t.clearing.get<SettlementRunView>(`/v1/settlement/runs/${(await waitForRun(t, res.body.id)).id}`)).body;
    expect(done).toMatchObject({ businessDate: '2026-12-03', price: '4.19', status: 'COMPLETED' });
    const fixing = (await publicFixings('TTI-70B', '?from=2026-12-03&to=2026-12-03')).body.items[0];
    expect(done.priceSource).toEqual({
      method: 'INDEX',
      from: 'TOKEN_INDEX',
      index: 'TTI-70B',
      fixingId: fixing.id,
      businessDate: '2026-12-03',
      fixingMethod: 'TRADES',
      hash: fixing.hash,
    });
    // b's cash + margin grew by the final VM exactly (the I70-X margin came back; what remains is b's 8B positions).
    const after = await total(b);
    expect(after.total - before.total).toBe(650n);
    expect(after.margin).toBe('24.00'); // 10 % of I8-DEC 4 × 4.00 × 10 + I8-JAN 2 × 4.00 × 10
    const vm = await t.prisma.transfer.findMany({ where: { settlementRunId: done.id, kind: 'VARIATION_MARGIN' } });
    expect(vm.map((v) => v.amountFen)).toEqual([650n, 650n]);
    const toB = vm.find((v) => v.idempotencyKey.endsWith(`.vm.${b.id}`))!;
    const cashB = await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: `member:${b.id}:cash` } });
    expect(toB.creditAccountId).toBe(cashB.id);
    expect((await t.clearing.get(`/v1/series/I70-X`)).body).toMatchObject({ status: 'SETTLED', lastSettlementPrice: '4.19' });

    // Clearing's recorded fixing, when there is one, is what settles (today's behaviour), and the run says so.
    const manual = await t.clearing.post<{ id: string }>('/v1/series/I70-Y/index-fixings', {
      price: '4.05',
      source: 'clearing committee',
      asOf: '2026-12-03T14:00:00+08:00',
    });
    expect(manual.status, manual.text).toBe(201);
    const y = await t.clearing.post<SettlementRunView>('/v1/settlement/runs', { type: 'EXPIRY', series: 'I70-Y' });
    const yDone = (await t.clearing.get<SettlementRunView>(`/v1/settlement/runs/${(await waitForRun(t, y.body.id)).id}`)).body;
    expect(yDone).toMatchObject({ price: '4.05', priceSource: { method: 'INDEX', from: 'CLEARING_FIXING', fixingId: manual.body.id } });
    await expectLedgerConsistent(t.prisma);
  });

  it('corrects a fixing by a new, linked fixing that a different person approves; the original stays as it was', async () => {
    const original = await t.prisma.tokenIndexFixing.findUniqueOrThrow({ where: { id: ids.f8d1 } });
    const proposed = await t.clearing.post<IndexFixingStaffView>(`/v1/indices/TTI-8B/fixings/${ids.f8d1}/corrections`, {
      price: '4.20',
      reason: 'a 4.20 print was keyed as 4.02 by the source venue',
    });
    expect(proposed.status, proposed.text).toBe(201);
    expect(proposed.body).toMatchObject({
      status: 'PROPOSED',
      method: 'CORRECTION',
      price: '4.20',
      businessDate: '2026-12-01',
      correctsId: ids.f8d1,
      inputs: { corrects: ids.f8d1 },
      chainSeq: null,
      hash: null,
      effective: false,
    });
    // Not published yet: the public list does not show it.
    expect((await publicFixings('TTI-8B', '?from=2026-12-01&to=2026-12-01')).body.items.map((f) => f.id)).toEqual([ids.f8d1]);
    // The proposer cannot approve, not even with a second key of their own.
    expectProblem(await t.clearing.post(`/v1/indices/fixings/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');
    const ownSecondKey = await t.clearing.post<{ key: string }>(`/v1/members/${t.clearingMemberId}/api-keys`, {
      role: 'clearing',
      label: 'laptop',
    });
    expect(ownSecondKey.status).toBe(201);
    expectProblem(await t.client(ownSecondKey.body.key).post(`/v1/indices/fixings/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');
    expectProblem(await t.client(a.key).post(`/v1/indices/fixings/${proposed.body.id}/approve`), 403, 'FORBIDDEN_ROLE');

    const second = await createClearingUser(t);
    const head = (await publicFixings('TTI-8B')).body.items.at(-1)!; // 12-03, the chain's last link so far
    const approved = await second.client.post<IndexFixingStaffView>(`/v1/indices/fixings/${proposed.body.id}/approve`);
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({
      status: 'PUBLISHED',
      effective: true,
      proposedBy: expect.any(String),
      decidedBy: second.staffId,
    });
    expect(approved.body.chainSeq).toBe(Math.max(...(await publicFixings('TTI-8B')).body.items.map((f) => f.chainSeq!)));
    expect(approved.body.prevHash).toBe(head.hash);
    expectProblem(await second.client.post(`/v1/indices/fixings/${proposed.body.id}/approve`), 409, 'INDEX_CORRECTION_NOT_PENDING');

    // The original: the same row, byte for byte; readers see both, linked, the correction effective.
    expect(await t.prisma.tokenIndexFixing.findUniqueOrThrow({ where: { id: ids.f8d1 } })).toEqual(original);
    const day = (await publicFixings('TTI-8B', '?from=2026-12-01&to=2026-12-01')).body.items;
    expect(day.map((f) => [f.id, f.price, f.effective, f.correctsId, f.correctedBy])).toEqual([
      [ids.f8d1, '4.21', false, null, [proposed.body.id]],
      [proposed.body.id, '4.20', true, ids.f8d1, []],
    ]);
    // The database itself refuses to restate or delete a published fixing.
    await expect(t.prisma.$executeRaw`UPDATE token_index_fixings SET "priceFen" = 420 WHERE id = ${ids.f8d1}::uuid`).rejects.toThrow(
      /never changed/,
    );
    await expect(t.prisma.$executeRaw`DELETE FROM token_index_fixings WHERE id = ${ids.f8d1}::uuid`).rejects.toThrow(/never deleted/);

    // A rejected proposal is never published (and only a published fixing can be corrected).
    const other = await t.clearing.post<IndexFixingStaffView>(`/v1/indices/TTI-8B/fixings/${ids.f8d1}/corrections`, {
      price: '9.99',
      reason: 'fat finger',
    });
    expectProblem(
      await t.clearing.post(`/v1/indices/TTI-8B/fixings/${other.body.id}/corrections`, { price: '1.00', reason: 'x'.repeat(5) }),
      409,
      'INDEX_FIXING_NOT_PUBLISHED',
    );
    expectProblem(await t.clearing.post(`/v1/indices/fixings/${other.body.id}/reject`), 409, 'SELF_APPROVAL');
    expect((await second.client.post(`/v1/indices/fixings/${other.body.id}/reject`)).body).toMatchObject({ status: 'REJECTED' });
    expectProblem(
      await t.clearing.post(`/v1/indices/TTI-70B/fixings/${ids.f8d1}/corrections`, { price: '1.00', reason: 'wrong index' }),
      404,
      'NOT_FOUND',
    );
    expect((await publicFixings('TTI-8B')).body.items.map((f) => f.status)).toEqual(['PUBLISHED', 'PUBLISHED', 'PUBLISHED', 'PUBLISHED']);
    // The correction is the effective price of its date for anything settling afterwards.
    expect(
      (await t.client().get<{ items: TokenIndexView[] }>('/v1/indices')).body.items.find((i) => i.code === 'TTI-8B')!.latest!.businessDate,
    ).toBe('2026-12-03');
  });

  it('reconciliation recomputes each index chain: clean, then a break at the one row changed behind the trigger', async () => {
    type Recon = { status: string; checks: { name: string; rowsExamined: number; differences: number }[] };
    type Break = { type: string; key: string; references: Record<string, string>; status: string };
    const recon = async () => {
      const r = await t.clearing.post<Recon>('/v1/reconciliation/runs', {});
      expect(r.status, r.text).toBe(201);
      return r.body;
    };
    const chainBreaks = async () =>
      (await t.clearing.get<{ items: Break[] }>('/v1/reconciliation/breaks?status=OPEN&type=INDEX_CHAIN&limit=500')).body.items;
    const clean = await recon();
    expect(clean.checks.find((c) => c.name === 'INDEX_CHAIN')).toMatchObject({ rowsExamined: 7, differences: 0 });
    expect(await chainBreaks()).toEqual([]);

    const victim = (await publicFixings('TTI-8B', '?from=2026-12-02&to=2026-12-02')).body.items[0];
    const tamper = (priceFen: bigint) =>
      t.prisma.$transaction([
        t.prisma.$executeRaw`SET LOCAL session_replication_role = replica`,
        t.prisma.$executeRaw`UPDATE token_index_fixings SET "priceFen" = ${priceFen} WHERE id = ${victim.id}::uuid`,
      ]);
    await tamper(999n);
    const broken = await recon();
    expect(broken.checks.find((c) => c.name === 'INDEX_CHAIN')).toMatchObject({ differences: 1 });
    expect(await chainBreaks()).toEqual([
      expect.objectContaining({
        type: 'INDEX_CHAIN',
        key: `TTI-8B:${victim.id}`,
        references: expect.objectContaining({ indexCode: 'TTI-8B', fixingId: victim.id, businessDate: '2026-12-02' }),
      }),
    ]);
    await tamper(421n);
    await recon();
    expect(await chainBreaks()).toEqual([]);
  });

  it('the CLI prints the fixings of an index without a key (table or JSON, every page, a date range)', async () => {
    assertBuilt();
    const cli = async (args: string[]) => {
      const p = spawnNode([`${ROOT}/dist/cli/main.js`, ...args], childEnv({ TOKENCLEAR_API: t.baseUrl, TOKENCLEAR_KEY: '' }));
      return { code: await p.exited, output: p.output() };
    };
    const listed = await cli(['indices', 'fixings', 'TTI-8B']);
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toMatch(/2026-12-01\s+4\.21\s+TRADES\s+80000000\s+/);
    expect(listed.output).toMatch(/2026-12-01\s+4\.20\s+CORRECTION\s+80000000\s+yes\s+/);
    const json = await cli(['indices', 'fixings', 'TTI-8B', '--from', '2026-12-02', '--to', '2026-12-03', '--json']);
    expect(json.code, json.output).toBe(0);
    const items = JSON.parse(json.output.slice(json.output.indexOf('['))) as IndexFixingView[];
    expect(items.map((f) => [f.businessDate, f.method, f.price])).toEqual([
      ['2026-12-02', 'PREVIOUS', '4.21'],
      ['2026-12-03', 'PREVIOUS', '4.21'],
    ]);
    expect((await cli(['indices', 'fixings'])).code).toBe(2);
    expect((await cli(['indices', 'fixings', 'TTI-1T'])).code).toBe(3);
  });

  it('chains concurrent publications of one index in order: each link once, no gap, no fork', async () => {
    clock.set(new Date('2026-12-10T02:00:00Z'));
    const days = ['2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08'];
    // Each date asked for twice at once, and a correction proposed and approved meanwhile.
    const proposal = await t.clearing.post<IndexFixingStaffView>(`/v1/indices/TTI-400B/fixings/${ids.f400d2}/corrections`, {
      price: '3.81',
      reason: 'rounding of a delivery print',
    });
    const second = await createClearingUser(t);
    const results = await Promise.all([
      ...[...days, ...days].map((d) => run('TTI-400B', d)),
      second.client.post<IndexFixingStaffView>(`/v1/indices/fixings/${proposal.body.id}/approve`),
    ]);
    for (const r of results) expect(r.status, r.text).toBeLessThan(300);
    const created = results.slice(0, 10).filter((r) => (r.body as Run).created);
    expect(created).toHaveLength(days.length);
    const chain = await t.prisma.tokenIndexFixing.findMany({
      where: { indexCode: 'TTI-400B', status: 'PUBLISHED' },
      orderBy: { chainSeq: 'asc' },
    });
    expect(chain.map((f) => Number(f.chainSeq))).toEqual(chain.map((_, i) => i + 1));
    for (let i = 1; i < chain.length; i++) expect(chain[i].prevHash).toBe(chain[i - 1].hash);
    const recon = await t.clearing.post<{ checks: { name: string; differences: number }[] }>('/v1/reconciliation/runs', {});
    expect(recon.body.checks.find((c) => c.name === 'INDEX_CHAIN')).toMatchObject({ differences: 0 });
  });
});
