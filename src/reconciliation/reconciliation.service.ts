import { Injectable, Logger } from '@nestjs/common';
import type { Prisma, ReconciliationRun } from '../generated/prisma/client.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { CHECKS, CHECK_NAMES, type Difference } from './checks.js';

// Runs never overlap: two concurrent runs could both open the same break.
const RECON_LOCK = 727_275;

/**
 * Reconciliation: every check over the whole data, each difference a Break. A difference already
 * open is refreshed, not duplicated; an open break whose difference is gone is CLEARED.
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(private readonly prisma: PrismaService) {}

  async run(
    trigger: 'MANUAL' | 'SETTLEMENT' | 'BANK_STATEMENT',
    requestedBy?: string,
    settlementRunId?: string,
  ): Promise<ReconciliationRun> {
    const run = await this.prisma.reconciliationRun.create({ data: { trigger, requestedBy, settlementRunId } });
    try {
      return await this.prisma.$transaction(
        async (tx) => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(${RECON_LOCK})`;
          const checks = [];
          const found: Difference[] = [];
          for (const name of CHECK_NAMES) {
            const t0 = performance.now();
            const result = await CHECKS[name](tx);
            checks.push({
              name,
              rowsExamined: result.rowsExamined,
              ms: Math.round(performance.now() - t0),
              differences: result.differences.length,
            });
            found.push(...result.differences);
          }
          const open = await tx.break.findMany({ where: { status: 'OPEN' }, select: { id: true, type: true, key: true } });
          const keyOf = (x: { type: string; key: string }) => `${x.type}|${x.key}`;
          const openByKey = new Map(open.map((b) => [keyOf(b), b.id]));
          const seen = new Set(found.map(keyOf));
          const fresh = found.filter((d) => !openByKey.has(keyOf(d)));
          const still = found.filter((d) => openByKey.has(keyOf(d)));
          await tx.break.createMany({
            data: fresh.map((d) => ({ ...d, references: d.references as Prisma.InputJsonValue, firstRunId: run.id, lastRunId: run.id })),
          });
          // Differences still open are refreshed in one statement (their amounts may have moved).
          if (still.length > 0) {
            await tx.$executeRaw`
              UPDATE breaks b SET expected = u.expected, actual = u.actual, difference = u.difference, "lastSeenAt" = now(), "lastRunId" = ${run.id}::uuid
              FROM unnest(${still.map((d) => openByKey.get(keyOf(d))!)}::uuid[], ${still.map((d) => d.expected)}::text[],
                          ${still.map((d) => d.actual)}::text[], ${still.map((d) => d.difference)}::text[]) AS u(id, expected, actual, difference)
              WHERE b.id = u.id`;
          }
          const opened = fresh.length;
          const gone = open.filter((b) => !seen.has(keyOf(b))).map((b) => b.id);
          await tx.break.updateMany({ where: { id: { in: gone } }, data: { status: 'CLEARED', clearedAt: new Date() } });
          const finished = await tx.reconciliationRun.update({
            where: { id: run.id },
            data: {
              status: 'COMPLETED',
              checks,
              breaksOpened: opened,
              breaksCleared: gone.length,
              openBreaks: seen.size,
              finishedAt: new Date(),
            },
          });
          this.logger.log(
            { run: run.id, trigger, differences: found.length, opened, cleared: gone.length },
            'reconciliation run completed',
          );
          return finished;
        },
        { timeout: 300_000 },
      );
    } catch (err) {
      await this.prisma.reconciliationRun.update({
        where: { id: run.id },
        data: { status: 'FAILED', error: (err as Error).message.slice(0, 2000), finishedAt: new Date() },
      });
      throw err;
    }
  }

  /** After each settlement run (outbox job from the settlement module). */
  @JobHandler('reconciliation.run')
  async afterSettlement({ settlementRunId }: JobPayloads['reconciliation.run']): Promise<{ runId: string | null }> {
    // An end of day finishes hundreds of runs at once: one reconciliation after the last covers all.
    const settled = await this.prisma.settlementRun.findUnique({ where: { id: settlementRunId }, select: { finishedAt: true } });
    const covered =
      settled?.finishedAt &&
      (await this.prisma.reconciliationRun.findFirst({ where: { createdAt: { gt: settled.finishedAt } }, select: { id: true } }));
    if (covered) return { runId: null };
    return { runId: (await this.run('SETTLEMENT', undefined, settlementRunId)).id };
  }

  async get(id: string): Promise<ReconciliationRun> {
    const run = await this.prisma.reconciliationRun.findUnique({ where: { id } });
    if (!run) throw new DomainError('NOT_FOUND', 'reconciliation run not found');
    return run;
  }
}
