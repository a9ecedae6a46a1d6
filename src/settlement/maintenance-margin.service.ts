import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Product } from '../generated/prisma/client.js';
import { hasPortfolioMargin, productRisk } from '../markets/domain/risk-params.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { dateColumn } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { maintenanceShortfallFen, memberRequirement, type ProductRequirement } from '../risk/domain/member-requirement.js';
import { maintenanceFen, type LegSums } from '../risk/domain/portfolio-margin.js';
import { RiskMarksRepository, type MarkAt, type RequirementRow, type SeriesMark } from './risk-marks.repository.js';

/** What the maintenance check compares, per member. */
type Assessed = Pick<MemberAssessment, 'memberId' | 'maintenanceFen' | 'equityFen'>;

/**
 * A DAILY run's margin after it: its series, and per member and product the outright margin
 * held in them at the new prices (`DailySettlementRepository.netted`).
 */
export interface RunMargin {
  seriesIds: string[];
  heldFen: Map<string, Map<string, bigint>>;
  products: Map<string, Product>;
}

export interface MemberAssessment {
  memberId: string;
  imFen: bigint;
  maintenanceFen: bigint;
  equityFen: bigint;
  products: (ProductRequirement & { productCode: string })[];
}

/** Members per re-mark pass. */
const CHUNK = 2_000;

/**
 * Maintenance margin (SPEC 6.3): equity = cash + margin + P&L not yet settled, against the
 * maintenance requirement = portfolio IM × maintenanceMarginBp / initialMarginBp, marked at the last
 * trade price every INTRADAY_MARK_MINUTES and at the settlement price by each daily run. Opens
 * MAINTENANCE calls (no money moves), closes them once equity covers the requirement again.
 */
@Injectable()
export class MaintenanceMarginService {
  private readonly logger = new Logger(MaintenanceMarginService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: RiskMarksRepository,
    private readonly clock: Clock,
  ) {}

  @JobHandler('settlement.intraday-mark')
  async intradayMark(): Promise<{ opened: number; closed: number }> {
    let cursor: string | null = null;
    let opened = 0;
    let closed = 0;
    // One set of marks for every range: each member valued at the same last prices.
    const marks = await this.repo.marks(this.tx.root, 'last', null);
    for (;;) {
      const range = await this.repo.memberRange(this.tx.root, cursor, CHUNK);
      if (!range) break;
      const rows = await this.repo.requirementSums(this.tx.root, { from: cursor, to: range.last }, marks);
      const r = await this.check(this.tx.root, rows, marks, null, new Set());
      opened += r.opened;
      closed += r.closed;
      cursor = range.last;
    }
    if (opened + closed > 0) this.logger.log({ opened, closed }, 'intraday re-mark: maintenance calls');
    return { opened, closed };
  }

  /**
   * After a daily run, in its transaction: members without a VARIATION call whose equity is short,
   * at the new margin prices. A member whose margin is all in the run's series starts from the
   * margin the run just struck (`run`: outrights per product, plus the portfolio adjustments the
   * run re-priced) — the same figure as re-reading its positions, since the margin held is the
   * worst case's — and the million positions are not read twice (2.5 s of a 4 s run at 1M).
   * Members with margin elsewhere too (a run over some series only) are assessed in full.
   */
  async afterDailyRun(db: Db, memberIds: string[], runId: string, skip: Set<string>, run?: RunMargin): Promise<number> {
    if (memberIds.length === 0) return 0;
    const full = run ? await this.repo.marginedOutside(db, memberIds, run.seriesIds) : new Set(memberIds);
    const assessed: Assessed[] = [];
    if (full.size > 0) assessed.push(...(await this.assessMembers(db, [...full], 'margin')));
    const struck = run ? memberIds.filter((m) => !full.has(m) && run.heldFen.has(m)) : [];
    if (struck.length > 0) assessed.push(...(await this.fromRun(db, struck, run!)));
    return (await this.openAndClose(db, assessed, runId, skip)).opened;
  }

  /**
   * Requirement from the margin a daily run struck; equity at the margin prices. Exact only because
   * the run re-priced the portfolio adjustments of every member and product it reaches, in this
   * transaction, under its locks (PortfolioAdjustmentsService.reprice): a change there is a change here.
   */
  private async fromRun(db: Db, memberIds: string[], run: RunMargin): Promise<Assessed[]> {
    const adjustments = await this.repo.adjustments(db, memberIds);
    const funds = await this.repo.funds(db, memberIds, []); // at the margin prices: no position P&L
    return memberIds.map((memberId) => {
      let maintenance = 0n;
      for (const [productId, held] of run.heldFen.get(memberId)!) {
        const product = run.products.get(productId)!;
        const im = held + (hasPortfolioMargin(product) ? (adjustments.get(`${memberId}:${productId}`) ?? 0n) : 0n);
        maintenance += maintenanceFen(im, productRisk(product));
      }
      const f = funds.get(memberId)!;
      return { memberId, maintenanceFen: maintenance, equityFen: f.cashFen + f.marginFen + f.unsettledFen };
    });
  }

  /** A deposit's job: closes the member's MAINTENANCE calls once equity covers the requirement at the last marks. */
  async closeCovered(db: Db, memberId: string): Promise<number> {
    const open = await this.repo.openMaintenance(db, [memberId]);
    if (open.length === 0) return 0;
    const [a] = await this.assessMembers(db, [memberId], 'last');
    if (a.equityFen < a.maintenanceFen) return 0;
    return this.repo.closeCalls(
      db,
      open.map((c) => c.id),
    );
  }

  /** These members' requirement and equity, marked `at` (each listed member is answered for). */
  async assessMembers(db: Db, memberIds: string[], at: MarkAt): Promise<MemberAssessment[]> {
    const marks = await this.repo.marks(db, at, memberIds);
    return this.assess(db, await this.repo.requirementSums(db, { members: memberIds }, marks), marks, memberIds);
  }

  /** Each member's requirement (from its legs' sums per product) and equity at the marks. */
  private async assess(db: Db, rows: RequirementRow[], marks: SeriesMark[], memberIds?: string[]): Promise<MemberAssessment[]> {
    const products = new Map<string, Product>(
      (await this.repo.productsByIds(db, [...new Set(rows.map((r) => r.productId))])).map((p) => [p.id, p]),
    );
    const byMember = new Map<string, Map<string, LegSums>>();
    for (const id of memberIds ?? []) byMember.set(id, new Map());
    for (const r of rows) (byMember.get(r.memberId) ?? byMember.set(r.memberId, new Map()).get(r.memberId)!).set(r.productId, r.sums);
    const members = [...byMember.keys()];
    const funds = await this.repo.funds(db, members, marks);
    return members.map((memberId) => {
      const req = memberRequirement(byMember.get(memberId)!, (id) => productRisk(products.get(id)!));
      const f = funds.get(memberId)!;
      return {
        memberId,
        imFen: req.imFen,
        maintenanceFen: req.maintenanceFen,
        equityFen: f.cashFen + f.marginFen + f.unsettledFen,
        products: req.products.map((x) => ({ ...x, productCode: products.get(x.productId)!.code })),
      };
    });
  }

  private async check(
    db: Db,
    rows: RequirementRow[],
    marks: SeriesMark[],
    runId: string | null,
    skip: Set<string>,
  ): Promise<{ opened: number; closed: number }> {
    return this.openAndClose(db, await this.assess(db, rows, marks), runId, skip);
  }

  /** Opens a MAINTENANCE call for each member short (none already open, not skipped); closes those covered again. */
  private async openAndClose(
    db: Db,
    assessed: Assessed[],
    runId: string | null,
    skip: Set<string>,
  ): Promise<{ opened: number; closed: number }> {
    const open = new Map(
      (
        await this.repo.openMaintenance(
          db,
          assessed.map((a) => a.memberId),
        )
      ).map((c) => [c.memberId, c]),
    );
    const now = this.clock.now();
    const calls = assessed
      .filter((a) => !skip.has(a.memberId) && !open.has(a.memberId))
      .map((a) => ({ memberId: a.memberId, amountFen: maintenanceShortfallFen(a.equityFen, a.maintenanceFen) }))
      .filter((c) => c.amountFen > 0n);
    const covered = assessed.filter((a) => open.has(a.memberId) && a.equityFen >= a.maintenanceFen).map((a) => open.get(a.memberId)!.id);
    const dueAt = new Date(now.getTime() + this.config.risk.marginCallDueMinutes * 60_000);
    const opened = await this.repo.openMaintenanceCalls(db, calls, dateColumn(this.clock.businessDate(now)), dueAt, runId);
    const closed = await this.repo.closeCalls(db, covered);
    return { opened, closed };
  }
}
