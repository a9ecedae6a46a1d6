/**
 * A token index fixing as the API shows it. No imports on purpose: the CLI and the public
 * board's browser code import these types too.
 */
export interface IndexFixingView {
  id: string;
  indexCode: string;
  businessDate: string;
  /** CNY per 1,000,000 tokens, a decimal string. */
  price: string;
  currency: 'CNY';
  /** TRADES | DELIVERIES | PREVIOUS | CORRECTION */
  method: string;
  volumeTokens: number;
  /** The ids of the prints used (trades, obligations, the previous fixing) or, for a correction, the fixing it corrects. */
  inputs: unknown;
  /** PUBLISHED | PROPOSED | REJECTED (public lists show PUBLISHED only). */
  status: string;
  /** Position in the index's hash chain (publication order); null until published. */
  chainSeq: number | null;
  hash: string | null;
  prevHash: string | null;
  correctsId: string | null;
  /** Published corrections of this fixing, in publication order. */
  correctedBy: string[];
  reason: string | null;
  /** True for the fixing that counts for its date: the last correction published, else the original. */
  effective: boolean;
  publishedAt: string | null;
}

/** A clearing-only view adds who proposed and who decided (staff ids). */
export interface IndexFixingStaffView extends IndexFixingView {
  proposedBy: string | null;
  decidedBy: string | null;
}

export interface TokenIndexView {
  code: string;
  modelClass: string;
  currency: 'CNY';
  /** The effective fixing of the latest fixed date, if any. */
  latest: IndexFixingView | null;
  methodology: string;
}
