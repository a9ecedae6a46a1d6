import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createClearingUser, createMember, expectProblem, type TestMember, verifiedBankAccount } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { settle } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// A hand-computed default. Cash series of one product: 10M-token contracts (multiplier 10), IM 10 %,
// no fees, reference price 4.00. Every amount below is in fen and worked out by hand.
const DAY = 86_400_000;

interface DefaultReport {
  id: string;
  status: string;
  lossFen: string;
  coveredFen: string;
  uncoveredFen: string;
  lots: {
    series: string;
    side: string;
    quantity: number;
    referencePrice: string;
    soldQuantity: number;
    tornUpQuantity: number;
    lossFen: string;
  }[];
  bids: { bidderId: string; price: string; quantity: number; awardedQuantity: number }[];
  awards: { kind: string; series: string; memberId: string; quantity: number; price: string }[];
  waterfall: { seq: number; layer: string; memberId: string | null; amountFen: string; amount: string }[];
}

describe('member default: auction, tear-up and waterfall, exact in fen', () => {
  let t: TestApp;
  let clock: Clock;
  let checker: TestMember;
  let x: TestMember; // the defaulter
  let a: TestMember; // long S1, guarantee 30.00
  let b: TestMember; // long S2, guarantee 10.00
  let w: TestMember; // bidder
  let v: TestMember; // bidder
  let S1: string;
  let S2: string;
  let D: string;
  let defaultId: string;

  const balance = async (code: string) =>
    (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code }, select: { balanceFen: true } })).balanceFen;
  const acct = (m: TestMember, type: string) => `member:${m.id}:${type}`;
  const report = async () => (await t.clearing.get<DefaultReport>(`/v1/defaults/${defaultId}`)).body;

  beforeAll(async () => {
    t = await startTestApp({ env: { DEFAULT_AUCTION_SECONDS: '4', LOG_LEVEL: 'error' } });
    clock = t.app.get(Clock);
    checker = await createClearingUser(t);
    // Business day D is yesterday: trades and settlement prices there, the default today.
    clock.set(new Date(Date.now() - DAY));
    D = clock.businessDate();
    [x, a, b, w, v] = [
      await createMember(t, 'TRADER', 'defaulter'),
      await createMember(t, 'TRADER', 'survivor-a'),
      await createMember(t, 'TRADER', 'survivor-b'),
      await createMember(t, 'TRADER', 'bidder-w'),
      await createMember(t, 'TRADER', 'bidder-v'),
    ];
    await fund(t, x, '100.00');
    for (const m of [a, b, w, v]) await fund(t, m, '1000.00');
    const product = await createProduct(t, { feePerContractFen: 0 });
    const far = {
      lastTradingAt: new Date(Date.now() + 20 * DAY).toISOString(),
      deliveryStart: new Date(Date.now() + 21 * DAY).toISOString(),
      deliveryEnd: new Date(Date.now() + 22 * DAY).toISOString(),
    };
    S1 = await createSeries(t, product, far);
    S2 = await createSeries(t, product, far);
  });
  afterAll(() => t.close());

  it('guarantee requirements are met from cash at the daily run; the CCP records its capital', async () => {
    for (const [m, amount] of [
      [x, '20.00'],
      [a, '30.00'],
      [b, '10.00'],
    ] as const) {
      const res = await t.clearing.put(`/v1/members/${m.id}/guarantee-requirement`, { amount, currency: 'CNY' });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ requirement: amount, contribution: '0.00' });
    }
    expectProblem(
      await x.client.put(`/v1/members/${x.id}/guarantee-requirement`, { amount: '1.00', currency: 'CNY' }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectProblem(
      await t.clearing.put(`/v1/members/${x.id}/guarantee-requirement`, { amount: '1.005', currency: 'CNY' }),
      400,
      'MONEY_TOO_PRECISE',
    );

    // X short 5 S1 to A and 3 S2 to B at 4.00; IM 5×400×10×10 % = 200 and 3×400×10×10 % = 120.
    expect((await order(x, S1, 'SELL', '4.00', 5)).status).toBe(201);
    expect((await order(a, S1, 'BUY', '4.00', 5)).body.filledQuantity).toBe(5);
    expect((await order(x, S2, 'SELL', '4.00', 3)).status).toBe(201);
    expect((await order(b, S2, 'BUY', '4.00', 3)).body.filledQuantity).toBe(3);
    expect((await t.clearing.post(`/v1/series/${S1}/settlement-price`, { price: '6.00', businessDate: D })).status).toBe(201);
    expect((await t.clearing.post(`/v1/series/${S2}/settlement-price`, { price: '4.50', businessDate: D })).status).toBe(201);
    clock.set(new Date()); // today: day D has ended
    await settle(t, { type: 'DAILY', series: S1, businessDate: D });
    await settle(t, { type: 'DAILY', series: S2, businessDate: D });

    // IM at 4.00: 5×400×10×10 % = 2000 and 3×400×10×10 % = 1200; re-struck at 6.00 and 4.50: 3000 and 1350.
    // X: 10000 − 3200 − 2000 (guarantee) − 10000 (VM S1) − 1000 (IM S1) − 1500 (VM S2) − 150 (IM S2) = −7850
    expect(await balance(acct(x, 'cash'))).toBe(-7850n);
    expect(await balance(acct(x, 'margin'))).toBe(4350n);
    expect(await balance(acct(x, 'guarantee'))).toBe(2000n);
    expect(await balance(acct(a, 'guarantee'))).toBe(3000n);
    expect(await balance(acct(b, 'guarantee'))).toBe(1000n);
    // A: 100000 − 2000 − 3000 + 10000 − 1000 = 104000; B: 100000 − 1200 − 1000 + 1500 − 150 = 99150
    expect(await balance(acct(a, 'cash'))).toBe(104_000n);
    expect(await balance(acct(b, 'cash'))).toBe(99_150n);
    const g = await x.client.get(`/v1/members/${x.id}/guarantee`);
    expect(g.body).toMatchObject({ requirement: '20.00', contribution: '20.00' });
    const st = await x.client.get<{ closingBalances: Record<string, string>; guaranteeFund: unknown }>(
      `/v1/members/${x.id}/statements/${D}`,
    );
    expect(st.body.closingBalances.guarantee).toBe('20.00');
    expect(st.body.guaranteeFund).toEqual({ requirement: '20.00', contribution: '20.00' });
    const calls = await t.clearing.get<{ items: { memberId: string; amount: string }[] }>('/v1/margin-calls?status=OPEN');
    expect(calls.body.items.find((c) => c.memberId === x.id)?.amount).toBe('78.50');

    const cap = await t.clearing.post('/v1/ccp/capital', { amount: '10.00', currency: 'CNY', reference: 'CAP-1' });
    expect(cap.status, cap.text).toBe(201);
    expect(cap.body).toMatchObject({ kind: 'CAPITAL', debitAccount: 'bank:settlement', creditAccount: 'ccp:capital' });
    expect(await balance('ccp:capital')).toBe(1000n);
  });

  it('one person proposes, another approves: X is suspended and its book becomes lots at the last settlement prices', async () => {
    const proposed = await t.clearing.post<{ id: string; status: string }>('/v1/defaults', {
      memberId: x.id,
      reason: 'margin call unpaid',
    });
    expect(proposed.status, proposed.text).toBe(201);
    expect(proposed.body.status).toBe('PROPOSED');
    defaultId = proposed.body.id;
    expectProblem(await t.clearing.post('/v1/defaults', { memberId: x.id, reason: 'again' }), 409, 'DEFAULT_ALREADY_OPEN');
    expectProblem(await t.clearing.post(`/v1/defaults/${defaultId}/approve`, {}), 409, 'SELF_APPROVAL');
    const approved = await checker.client.post<{ status: string; auctionEndsAt: string }>(`/v1/defaults/${defaultId}/approve`, {});
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body.status).toBe('AUCTION');
    expect((await t.clearing.get<{ status: string }>(`/v1/members/${x.id}`)).body.status).toBe('SUSPENDED');
    const r = await report();
    expect(r.lots.map((l) => [l.series, l.side, l.quantity, l.referencePrice])).toEqual(
      [
        [S1, 'SHORT', 5, '6.00'],
        [S2, 'SHORT', 3, '4.50'],
      ].sort((p, q) => (p[0] < q[0] ? -1 : 1)),
    );
  });

  it('sealed bids from members for S1 only; the defaulter cannot trade, withdraw or bid', async () => {
    // The defaulter buys back a SHORT lot: the lower price is the better bid.
    expect((await w.client.post(`/v1/defaults/${defaultId}/bids`, { series: S1, price: '6.40', quantity: 3 })).status).toBe(201);
    expect((await v.client.post(`/v1/defaults/${defaultId}/bids`, { series: S1, price: '6.80', quantity: 4 })).status).toBe(201);
    expectProblem(
      await v.client.post(`/v1/defaults/${defaultId}/bids`, { series: 'NOPE', price: '6.80', quantity: 1 }),
      422,
      'NO_SUCH_LOT',
    );
    expectProblem(
      await x.client.post(`/v1/defaults/${defaultId}/bids`, { series: S1, price: '6.00', quantity: 5 }),
      403,
      'MEMBER_SUSPENDED',
    );
    expectProblem(await order(x, S1, 'BUY', '6.00', 1), 403, 'MEMBER_SUSPENDED');
    expectProblem(await x.client.post(`/v1/members/${x.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }), 403, 'MEMBER_SUSPENDED');
    // Sealed: a bidder sees its own bids only.
    const seen = await w.client.get<DefaultReport>(`/v1/defaults/${defaultId}`);
    expect(seen.body.bids.map((b) => b.bidderId)).toEqual([w.id]);
    expect(seen.body.waterfall).toEqual([]);
  });

  it('at the auction end: S1 sold to the best bids, S2 torn up against B at 4.50, the loss paid layer by layer', async () => {
    for (let i = 0; i < 200 && (await report()).status !== 'COMPLETED'; i++) await new Promise((r) => setTimeout(r, 100));
    const r = await report();
    expect(r.status).toBe('COMPLETED');
    // S1: W 3 @ 6.40, V 2 @ 6.80 → (640 − 600)×3×10 + (680 − 600)×2×10 = 1200 + 1600 = 2800
    const lot1 = r.lots.find((l) => l.series === S1)!;
    const lot2 = r.lots.find((l) => l.series === S2)!;
    expect(lot1).toMatchObject({ soldQuantity: 5, tornUpQuantity: 0, lossFen: '2800' });
    expect(lot2).toMatchObject({ soldQuantity: 0, tornUpQuantity: 3, lossFen: '0' });
    const byText = (p: unknown[], q: unknown[]) => JSON.stringify(p).localeCompare(JSON.stringify(q));
    expect(r.awards.map((x) => [x.kind, x.series, x.memberId, x.quantity, x.price]).sort(byText)).toEqual(
      [
        ['AWARD', S1, w.id, 3, '6.40'],
        ['AWARD', S1, v.id, 2, '6.80'],
        ['TEAR_UP', S2, b.id, 3, '4.50'],
      ].sort(byText),
    );
    // Loss = X's negative cash after the close-out: 7850 + 2800 = 10650.
    // Margin 4350, guarantee 2000, capital 1000 → 7350; the remaining 3300 from A and B pro rata
    // to their requirements 3000 : 1000 → 2475 and 825.
    expect(r).toMatchObject({ lossFen: '10650', coveredFen: '10650', uncoveredFen: '0' });
    const survivors = [
      { memberId: a.id, amountFen: '2475' },
      { memberId: b.id, amountFen: '825' },
    ].sort((p, q) => p.memberId.localeCompare(q.memberId));
    expect(r.waterfall.map((s) => ({ layer: s.layer, memberId: s.memberId, amountFen: s.amountFen }))).toEqual([
      { layer: 'DEFAULTER_MARGIN', memberId: x.id, amountFen: '4350' },
      { layer: 'DEFAULTER_GUARANTEE', memberId: x.id, amountFen: '2000' },
      { layer: 'CCP_CAPITAL', memberId: null, amountFen: '1000' },
      ...survivors.map((s) => ({ layer: 'SURVIVOR_GUARANTEE', ...s })),
    ]);
    expect(r.waterfall[0].amount).toBe('43.50');
  });

  it('every account lands where the hand computation says; ccp:default is back to zero; the ledger balances', async () => {
    expect(await balance(acct(x, 'cash'))).toBe(0n);
    expect(await balance(acct(x, 'margin'))).toBe(0n);
    expect(await balance(acct(x, 'guarantee'))).toBe(0n);
    expect(await balance('ccp:capital')).toBe(0n);
    expect(await balance('ccp:default')).toBe(0n);
    expect(await balance(acct(a, 'guarantee'))).toBe(525n);
    expect(await balance(acct(b, 'guarantee'))).toBe(175n);
    // W: short 3 S1 at 6.00 → IM 1800 locked; the award's price difference 1200 received.
    expect(await balance(acct(w, 'cash'))).toBe(100_000n - 1800n + 1200n);
    expect(await balance(acct(v, 'cash'))).toBe(100_000n - 1200n + 1600n);
    // B: the tear-up closes its long 3 S2 at 4.50 (no VM against that price), margin 1350 back.
    expect(await balance(acct(b, 'cash'))).toBe(99_150n + 1350n);
    expect(await balance(acct(b, 'margin'))).toBe(0n);
    const pos = await t.clearing.get<{ items: { series: string; memberId: string; net: number }[] }>(`/v1/positions?limit=500`);
    const net = (m: TestMember, s: string) => pos.body.items.find((p) => p.memberId === m.id && p.series === s)?.net ?? 0;
    expect([net(x, S1), net(x, S2), net(a, S1), net(b, S2), net(w, S1), net(v, S1)]).toEqual([0, 0, 5, 0, -3, -2]);
    const kinds = await t.prisma.$queryRaw<{ kind: string; n: bigint }[]>`
      SELECT kind::text, sum("amountFen")::bigint AS n FROM transfers WHERE kind IN ('DEFAULT_WATERFALL', 'DEFAULT_CLOSE_OUT') GROUP BY 1 ORDER BY 1`;
    // Waterfall: 10650 in through ccp:default and 10650 out to X's cash.
    expect(kinds).toEqual([
      { kind: 'DEFAULT_CLOSE_OUT', n: 2800n },
      { kind: 'DEFAULT_WATERFALL', n: 21_300n },
    ]);
    await expectLedgerConsistent(t.prisma);
    const recon = await t.clearing.post<{ checks: { name: string; differences: number }[] }>('/v1/reconciliation/runs', {});
    expect(recon.status, recon.text).toBe(201);
    expect(recon.body.checks.filter((c) => c.differences > 0)).toEqual([]);
    expect(recon.body.checks.map((c) => c.name)).toContain('DEFAULT_FUND');
  });

  it('the next daily run tops the survivors up again from their cash', async () => {
    // Not re-run here (the date would be today's, not yet ended): the shortfall is what it will move.
    const g = await t.clearing.get(`/v1/members/${a.id}/guarantee`);
    expect(g.body).toMatchObject({ requirement: '30.00', contribution: '5.25' });
  });
});

describe('default declaration: four eyes and a defaulted member locked out', () => {
  let t: TestApp;
  let y: TestMember;

  beforeAll(async () => {
    t = await startTestApp({
      env: { DEFAULT_AUCTION_SECONDS: '1', AUTO_PROPOSE_DEFAULT: 'true', DEFAULT_SWEEP_MS: '1000', LOG_LEVEL: 'error' },
    });
    y = await createMember(t, 'TRADER');
    await verifiedBankAccount(t, y);
    await fund(t, y, '50.00');
  });
  afterAll(() => t.close());

  it('the maker cannot approve, even with a second key of their own; another person can; pending withdrawals come back', async () => {
    const product = await createProduct(t, { feePerContractFen: 0 });
    const series = await createSeries(t, product);
    // A resting order (IM 1 × 400 × 10 × 10 % = 4.00 held) and a pending withdrawal of 20.00.
    expect((await order(y, series, 'BUY', '4.00', 1)).body).toMatchObject({ status: 'OPEN' });
    expect((await y.client.post(`/v1/members/${y.id}/withdrawals`, { amount: '20.00', currency: 'CNY' })).status).toBe(201);
    const maker = await createClearingUser(t, 'maker');
    const makerSecondKey = await maker.client.post<{ key: string }>(`/v1/members/${maker.id}/api-keys`, { role: 'clearing' });
    expect(makerSecondKey.status, makerSecondKey.text).toBe(201);
    const proposed = await maker.client.post<{ id: string }>('/v1/defaults', { memberId: y.id, reason: 'insolvent' });
    expect(proposed.status, proposed.text).toBe(201);
    const id = proposed.body.id;
    expectProblem(await maker.client.post(`/v1/defaults/${id}/approve`, {}), 409, 'SELF_APPROVAL');
    expectProblem(await t.client(makerSecondKey.body.key).post(`/v1/defaults/${id}/approve`, {}), 409, 'SELF_APPROVAL');
    expectProblem(await y.client.post(`/v1/defaults/${id}/approve`, {}), 403, 'FORBIDDEN_ROLE');
    const approved = await t.clearing.post(`/v1/defaults/${id}/approve`, {});
    expect(approved.status, approved.text).toBe(200);
    expectProblem(await t.clearing.post(`/v1/defaults/${id}/approve`, {}), 409, 'DEFAULT_NOT_PROPOSED');

    const withdrawals = await t.clearing.get<{ items: { status: string }[] }>(`/v1/withdrawals?status=PENDING`);
    expect(withdrawals.body.items).toEqual([]);
    const orders = await t.prisma.order.findMany({ where: { memberId: y.id } });
    expect(orders.map((o) => o.status)).toEqual(['CANCELLED']);
    expect((await t.clearing.get(`/v1/members/${y.id}/balances`)).body).toMatchObject({ cash: '50.00', margin: '0.00', pending: '0.00' });

    // The defaulter's keys are refused everywhere that moves something.
    expectProblem(await order(y, series, 'BUY', '4.00', 1), 403, 'MEMBER_SUSPENDED');
    expectProblem(await y.client.post(`/v1/members/${y.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }), 403, 'MEMBER_SUSPENDED');
    expectProblem(await y.client.post(`/v1/defaults/${id}/bids`, { series, price: '4.00', quantity: 1 }), 403, 'MEMBER_SUSPENDED');

    // No positions, positive cash: nothing to auction, no loss.
    let status = '';
    for (let i = 0; i < 100 && status !== 'COMPLETED'; i++) {
      status = (await t.clearing.get<{ status: string }>(`/v1/defaults/${id}`)).body.status;
      if (status !== 'COMPLETED') await new Promise((r) => setTimeout(r, 100));
    }
    expect((await t.clearing.get(`/v1/defaults/${id}`)).body).toMatchObject({ status: 'COMPLETED', lossFen: '0', waterfall: [] });
    await expectLedgerConsistent(t.prisma);
  });

  it('AUTO_PROPOSE_DEFAULT proposes (never declares) a default for a member whose margin call is overdue', async () => {
    const z = await createMember(t, 'TRADER');
    // An open call past its due time, as a daily run leaves it for a member who did not pay.
    await t.prisma.marginCall.create({
      data: { memberId: z.id, businessDate: new Date('2026-12-01'), amountFen: 1_000n, dueAt: new Date(Date.now() - 60_000) },
    });
    const proposed = await waitForProposal(t, z.id);
    expect(proposed).toMatchObject({ origin: 'AUTO', status: 'PROPOSED', proposedBy: null });
    expect((await t.clearing.get<{ status: string }>(`/v1/members/${z.id}`)).body.status).toBe('ACTIVE');
    // A person declares it.
    const approved = await t.clearing.post(`/v1/defaults/${proposed.id}/approve`, {});
    expect(approved.status, approved.text).toBe(200);
    expect((await t.clearing.get<{ status: string }>(`/v1/members/${z.id}`)).body.status).toBe('SUSPENDED');
  });
});

async function waitForProposal(
  t: TestApp,
  memberId: string,
): Promise<{ id: string; origin: string; status: string; proposedBy: string | null }> {
  for (let i = 0; i < 100; i++) {
    const list = await t.clearing.get<{
      items: { id: string; memberId: string; origin: string; status: string; proposedBy: string | null }[];
    }>('/v1/defaults?status=PROPOSED');
    const found = list.body.items.find((d) => d.memberId === memberId);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no default was proposed');
}
