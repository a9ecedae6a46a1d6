/**
 * A settlement run as the API shows it. No imports on purpose: the CLI and the console's browser
 * code import this type too.
 */
export interface SettlementRunView {
  id: string;
  type: string;
  businessDate: string;
  /** The run's series code; null for a DAILY run over a set of `seriesCount` series. */
  series: string | null;
  seriesCount: number;
  status: string;
  phase: string;
  price: string | null;
  /** EXPIRY: where the final price came from — `from` CLEARING_FIXING (recorded by clearing) or TOKEN_INDEX (index, fixingId, businessDate, hash). */
  priceSource: Record<string, string> | null;
  currency: string;
  progress: { processed: number; total: number };
  transferCount: number;
  totalMoved: string;
  checksum: string | null;
  attempts: number;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
