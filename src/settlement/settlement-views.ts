import type { SettlementRun } from '../generated/prisma/client.js';
import { formatFen } from '../platform/money/money.js';
import { isoDate } from '../platform/time/business-date.js';
import type { SettlementRunView } from './settlement-run.view.js';

export function runView(r: SettlementRun, seriesCode: string | null, seriesCount: number): SettlementRunView {
  return {
    id: r.id,
    type: r.type,
    businessDate: isoDate(r.businessDate),
    series: seriesCode,
    seriesCount,
    status: r.status,
    phase: r.phase,
    price: r.priceFen === null ? null : formatFen(r.priceFen),
    priceSource: (r.priceSource as Record<string, string> | null) ?? null,
    currency: 'CNY',
    progress: { processed: r.processedItems, total: r.totalItems },
    transferCount: r.transferCount,
    totalMoved: formatFen(r.totalMovedFen),
    checksum: r.checksum,
    attempts: r.attempts,
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}
