import type { TokenIndexFixing } from '../generated/prisma/client.js';
import { formatFen } from '../platform/money/money.js';
import { isoDate } from '../platform/time/business-date.js';
import type { IndexFixingStaffView, IndexFixingView } from './index-fixing.view.js';

export const METHODOLOGY_PATH = '/v1/indices/methodology';

export interface FixingLinks {
  correctedBy: Map<string, string[]>;
  effectiveSeq: Map<string, bigint>;
}

export function fixingView(f: TokenIndexFixing, links: FixingLinks): IndexFixingView {
  const lastOfDate = links.effectiveSeq.get(`${f.indexCode}|${f.businessDate.getTime()}`);
  return {
    id: f.id,
    indexCode: f.indexCode,
    businessDate: isoDate(f.businessDate),
    price: formatFen(f.priceFen),
    currency: 'CNY',
    method: f.method,
    volumeTokens: Number(f.volumeTokens),
    inputs: f.inputs,
    status: f.status,
    chainSeq: f.chainSeq === null ? null : Number(f.chainSeq),
    hash: f.hash,
    prevHash: f.prevHash,
    correctsId: f.correctsId,
    correctedBy: links.correctedBy.get(f.id) ?? [],
    reason: f.reason,
    effective: f.status === 'PUBLISHED' && f.chainSeq !== null && lastOfDate === f.chainSeq,
    publishedAt: f.publishedAt?.toISOString() ?? null,
  };
}

export function staffView(f: TokenIndexFixing, links: FixingLinks): IndexFixingStaffView {
  return { ...fixingView(f, links), proposedBy: f.proposedBy, decidedBy: f.approvedBy };
}
