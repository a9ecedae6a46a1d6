import { Injectable } from '@nestjs/common';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { toTransferView } from '../ledger/ledger-queries.service.js';
import { assertCanSee } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { addDays } from '../platform/time/business-date.js';
import type { Trade } from '../generated/prisma/client.js';
import { multiplier } from '../markets/domain/contract-math.js';
import { MarketsRepository, type SeriesWithProduct } from '../markets/markets.repository.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { MaintenanceMarginService } from './maintenance-margin.service.js';
import { variationMarginFen } from './domain/settlement-math.js';
import { SettlementRepository } from './settlement.repository.js';
import { StatementsRepository, type TradedPosition } from './statements.repository.js';

/** A member's statement for one business date: balances, transfers, trades, positions, prices. */
@Injectable()
export class StatementsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: StatementsRepository,
    private readonly ledger: LedgerRepository,
    private readonly settlement: SettlementRepository,
    private readonly dailyRuns: DailySettlementRepository,
    private readonly markets: MarketsRepository,
    private readonly maintenance: MaintenanceMarginService,
  ) {}

  async statement(p: Principal, memberId: string, businessDate: string) {
    assertCanSee(p, memberId, 'member');
    const db = this.tx.root;
    const member = isUuid(memberId) ? await this.repo.member(db, memberId) : null;
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    const [opening, closing, accounts] = await Promise.all([
      this.ledger.balancesAsOf(db, memberId, addDays(businessDate, -1)),
      this.ledger.balancesAsOf(db, memberId, businessDate),
      this.ledger.memberAccounts(db, memberId),
    ]);
    const transfers = await this.ledger.listForAccounts(
      db,
      accounts.map((a) => a.id),
      { from: businessDate, to: businessDate, limit: 100_000 },
    );
    const trades = await this.repo.tradesOn(db, memberId, businessDate);
    const seriesIds = [...new Set(trades.map((t) => t.seriesId))];
    const positionRows = await this.repo.positionsFromTrades(db, memberId, businessDate);
    const allSeries = [...new Set([...seriesIds, ...positionRows.map((r) => r.seriesId)])];
    const series = await this.markets.seriesByIds(db, allSeries);
    const code = new Map(series.map((s) => [s.id, s.code]));
    const prices = await this.settlement.pricesOn(db, allSeries, businessDate);
    const variationMargin = await this.variationBySeries(memberId, businessDate, series, positionRows, trades, prices);
    const initialMargin = await this.initialMargin(memberId);
    const requirementFen = await this.repo.guaranteeRequirement(db, memberId);
    const bal = (rows: { type: string; balanceFen: bigint }[]) =>
      Object.fromEntries(rows.map((r) => [r.type.toLowerCase(), formatFen(r.balanceFen)]));
    return {
      memberId,
      memberName: member.name,
      businessDate,
      currency: 'CNY',
      openingBalances: bal(opening),
      closingBalances: bal(closing),
      transfers: transfers.reverse().map(toTransferView),
      trades: trades.map((t) => ({
        id: t.id,
        series: code.get(t.seriesId),
        side: t.buyerId === memberId ? 'BUY' : 'SELL',
        price: formatFen(t.priceFen),
        quantity: t.quantity,
        block: t.block,
        time: t.createdAt.toISOString(),
      })),
      positions: positionRows.map((r) => ({
        series: code.get(r.seriesId),
        long: Number(r.long),
        short: Number(r.short),
        net: Number(r.long - r.short),
      })),
      settlementPrices: prices.map((s) => ({ series: code.get(s.seriesId), price: formatFen(s.priceFen), method: s.method })),
      variationMargin,
      initialMargin,
      // The member's guarantee-fund contribution at the day's close against its requirement (SPEC §6.4).
      guaranteeFund: {
        requirement: formatFen(requirementFen),
        contribution: formatFen(closing.find((r) => r.type === 'GUARANTEE')?.balanceFen ?? 0n),
      },
    };
  }

  /**
   * The initial margin the member's open positions and resting orders require now, at each series'
   * margin price (after a daily run: that run's prices), per product with its components.
   */
  private async initialMargin(memberId: string) {
    const [a] = await this.maintenance.assessMembers(this.tx.root, [memberId], 'margin');
    return {
      total: formatFen(a.imFen),
      maintenance: formatFen(a.maintenanceFen),
      products: a.products
        .sort((x, y) => (x.productCode < y.productCode ? -1 : 1))
        .map((p) => ({
          product: p.productCode,
          outright: formatFen(p.outrightFen),
          scenario: formatFen(p.scenarioFen),
          spreadCharge: formatFen(p.spreadFen),
          spreadCredit: formatFen(p.spreadCreditFen),
          concentrationAddOn: formatFen(p.concentrationFen),
          initialMargin: formatFen(p.totalFen),
          maintenance: formatFen(p.maintenanceFen),
        })),
    };
  }

  /**
   * A DAILY run pays one netted VM transfer per member; the statement shows where it came from:
   * per series the run settled that day, the same formula from the member's own trades and the
   * prices (they sum to the transfer).
   */
  private async variationBySeries(
    memberId: string,
    businessDate: string,
    series: SeriesWithProduct[],
    positions: TradedPosition[],
    trades: Trade[],
    prices: { seriesId: string; priceFen: bigint }[],
  ) {
    const settled = await this.dailyRuns.settledSeries(
      this.tx.root,
      series.map((s) => s.id),
      businessDate,
    );
    const previous = await this.settlement.previousPrices(this.tx.root, [...settled], businessDate);
    const price = new Map(prices.map((p) => [p.seriesId, p.priceFen]));
    return series
      .filter((s) => settled.has(s.id) && price.has(s.id))
      .map((s) => {
        const pos = positions.find((p) => p.seriesId === s.id);
        const netEnd = pos ? pos.long - pos.short : 0n;
        const today = trades
          .filter((t) => t.seriesId === s.id)
          .map((t) => ({ signed: BigInt(t.buyerId === memberId ? t.quantity : -t.quantity), priceFen: t.priceFen }));
        const netStart = netEnd - today.reduce((sum, t) => sum + t.signed, 0n);
        const prevPriceFen = previous.get(s.id) ?? s.referencePriceFen;
        const priceFen = price.get(s.id)!;
        const vm = variationMarginFen({
          netStart,
          netEnd,
          prevPriceFen,
          priceFen,
          todaysSignedCostFen: today.reduce((sum, t) => sum + t.signed * t.priceFen, 0n),
          multiplier: multiplier(s.product.contractSizeTokens),
        });
        return {
          series: s.code,
          netStart: Number(netStart),
          netEnd: Number(netEnd),
          previousPrice: formatFen(prevPriceFen),
          price: formatFen(priceFen),
          amount: formatFen(vm),
        };
      })
      .sort((x, y) => (x.series < y.series ? -1 : 1));
  }

  /** One CSV with a `section` column, so a spreadsheet can filter it; amounts as decimal strings. */
  toCsv(s: Awaited<ReturnType<StatementsService['statement']>>): string {
    type Cell = string | number | boolean | null | undefined;
    const esc = (v: Cell) => {
      const text = v === null || v === undefined ? '' : String(v);
      return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    const lines = [
      ['section', 'date', 'item', 'series', 'kind_or_side', 'debit', 'credit', 'amount_or_price', 'quantity', 'currency', 'reference'].join(
        ',',
      ),
    ];
    const row = (...cells: Cell[]) => lines.push(cells.map(esc).join(','));
    for (const [account, amount] of Object.entries(s.openingBalances))
      row('opening_balance', s.businessDate, account, '', '', '', '', amount, '', s.currency, '');
    for (const t of s.transfers)
      row('transfer', t.businessDate, t.id, '', t.kind, t.debitAccount, t.creditAccount, t.amount, '', s.currency, t.reference ?? '');
    for (const t of s.trades)
      row('trade', s.businessDate, t.id, t.series, t.side, '', '', t.price, t.quantity, s.currency, t.block ? 'block' : '');
    for (const p of s.positions) row('position', s.businessDate, '', p.series, '', '', '', '', p.net, '', '');
    for (const p of s.settlementPrices)
      row('settlement_price', s.businessDate, '', p.series, p.method, '', '', p.price, '', s.currency, '');
    for (const v of s.variationMargin)
      row(
        'variation_margin',
        s.businessDate,
        '',
        v.series,
        '',
        '',
        '',
        v.amount,
        v.netEnd,
        s.currency,
        `S ${v.price} vs ${v.previousPrice}`,
      );
    for (const m of s.initialMargin.products)
      row(
        'initial_margin',
        s.businessDate,
        m.product,
        '',
        '',
        '',
        '',
        m.initialMargin,
        '',
        s.currency,
        `outright ${m.outright}; spread charge ${m.spreadCharge} (credit ${m.spreadCredit}); concentration ${m.concentrationAddOn}; maintenance ${m.maintenance}`,
      );
    for (const [account, amount] of Object.entries(s.closingBalances))
      row('closing_balance', s.businessDate, account, '', '', '', '', amount, '', s.currency, '');
    row('guarantee_fund', s.businessDate, 'requirement', '', '', '', '', s.guaranteeFund.requirement, '', s.currency, '');
    return `${lines.join('\n')}\n`;
  }
}
