// Every stable error code the API can answer with, and its HTTP status. Adding a code here is
// the only way to add one; the filter maps DomainError -> problem+json from this table.
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Request body is not valid JSON' },
  INVALID_ID: { status: 400, title: 'Malformed identifier' },
  UNAUTHENTICATED: { status: 401, title: 'Missing or invalid API key' },
  API_KEY_REVOKED: { status: 401, title: 'API key has been revoked' },
  FORBIDDEN_ROLE: { status: 403, title: 'Role not allowed for this operation' },
  MEMBER_SUSPENDED: { status: 403, title: 'Member is suspended' },
  NOT_FOUND: { status: 404, title: 'Resource not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: 'Idempotency key reused with a different request' },
  SECRET_ALREADY_ISSUED: { status: 409, title: 'This request issued a secret, which is shown once: it is never replayed' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'A request with this idempotency key is still running' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, title: 'Idempotency-Key header is malformed' },
  ROLE_KIND_MISMATCH: { status: 409, title: 'Role does not fit the member kind' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  MONEY_NOT_A_STRING: { status: 400, title: 'Money amounts are decimal strings, e.g. "1234.50"' },
  MONEY_FORMAT: { status: 400, title: 'Malformed money amount' },
  MONEY_TOO_PRECISE: { status: 400, title: 'Money amounts have at most 2 decimals (fen)' },
  MONEY_NEGATIVE: { status: 400, title: 'Money amount must not be negative' },
  MONEY_ZERO: { status: 400, title: 'Money amount must be greater than zero' },
  MONEY_OUT_OF_RANGE: { status: 400, title: 'Money amount is too large' },
  CURRENCY_NOT_SUPPORTED: { status: 400, title: 'Only CNY is cleared' },
  INSUFFICIENT_FUNDS: { status: 422, title: 'Insufficient funds' },
  TRANSFER_KEY_CONFLICT: { status: 409, title: 'Transfer idempotency key already used for a different transfer' },
  DEPOSIT_REFERENCE_REUSED: { status: 409, title: 'Bank reference already recorded with a different amount' },
  WITHDRAWAL_NOT_PENDING: { status: 409, title: 'Withdrawal is no longer pending' },
  ACCOUNT_NOT_FOUND: { status: 404, title: 'Ledger account not found' },
  CALLBACK_URL_NOT_ALLOWED: { status: 400, title: 'callbackUrl points where webhooks may not go (https to a public address only)' },
  UNKNOWN_REGION: { status: 400, title: 'Region is not one of the configured regions' },
  UNKNOWN_MODEL_CLASS: { status: 400, title: 'Model class is not one of the configured model classes' },
  DUPLICATE_MODEL_CLASS: { status: 400, title: 'A model class is listed twice' },
  DATA_CENTER_NAME_TAKEN: { status: 409, title: 'The operator already has a data center with this name' },
  NODE_OFFLINE: { status: 409, title: 'Node is offline; its agent heartbeat brings it online' },
  NODE_TOKEN_INVALID: { status: 401, title: 'Missing or invalid node token' },
  PRODUCT_EXISTS: { status: 409, title: 'A product with this code exists' },
  SERIES_EXISTS: { status: 409, title: 'A series with this code exists' },
  INVALID_PRODUCT: { status: 400, title: 'Product definition is inconsistent' },
  INVALID_SERIES: { status: 400, title: 'Series definition is inconsistent' },
  SERIES_NOT_TRADING: { status: 409, title: 'Series is not trading' },
  OFF_TICK: { status: 400, title: 'Price is not a multiple of the tick' },
  PRICE_LIMIT: { status: 422, title: 'Price outside the daily price limit' },
  INVALID_QUANTITY: { status: 400, title: 'Quantity must be a whole number of contracts, at least 1' },
  INSUFFICIENT_MARGIN: { status: 422, title: 'Not enough free cash for the initial margin and fees' },
  CAPACITY_NOT_BACKED: { status: 422, title: "Short position would exceed the operator's registered delivery capacity" },
  DELIVERY_NOT_ALLOWED: { status: 422, title: 'This member may not take this position in a physically delivered series' },
  SERIES_PAUSED: { status: 409, title: 'Series is paused by its circuit breaker' },
  POSITION_LIMIT: { status: 422, title: 'The order could take the position past a position limit' },
  MARGIN_CALL_OPEN: { status: 409, title: 'An open maintenance margin call allows only orders that reduce positions' },
  DUPLICATE_CLIENT_ORDER_ID: { status: 409, title: 'clientOrderId already used by this member' },
  ORDER_NOT_OPEN: { status: 409, title: 'Order is no longer open' },
  SELF_TRADE: { status: 400, title: 'Buyer and seller must differ' },
  BUSINESS_DAY_NOT_ENDED: { status: 409, title: 'That business day has not ended yet' },
  SETTLEMENT_RUN_COMPLETED: { status: 409, title: 'The settlement run for that day is already complete' },
  SERIES_NOT_EXPIRED: { status: 409, title: 'Series has not reached its last trading time' },
  INDEX_FIXING_MISSING: { status: 409, title: 'No index fixing recorded for the series' },
  SETTLEMENT_TYPE_MISMATCH: { status: 409, title: 'This run type does not apply to this series' },
  DELIVERY_WINDOW_OPEN: { status: 409, title: 'The delivery window of the series has not ended yet' },
  DELIVERY_WINDOW_TOO_SHORT: { status: 409, title: "The job cannot finish before the delivery window ends at the product's minimum rate" },
  MODEL_CLASS_MISMATCH: { status: 400, title: "Model class does not match the series' product" },
  REGION_NOT_ALLOWED: { status: 400, title: "Region is not one of the product's delivery regions" },
  NO_ENTITLEMENT: { status: 422, title: 'No open delivery obligation with tokens left for this buyer in this series' },
  OBLIGATION_FUNDING: { status: 409, title: 'The delivery obligation waits for the buyer to fund its escrow (see margin calls)' },
  LEASE_STALE: { status: 409, title: 'The lease token is not the current lease of this job' },
  JOB_FINISHED: { status: 409, title: 'The delivery job has already finished' },
  SELF_APPROVAL: {
    status: 409,
    title: 'The proposer may not decide it: a second person of the clearing house must (two keys of one person are one pair of eyes)',
  },
  STAFF_NOT_PENDING: { status: 409, title: 'The staff proposal has already been decided' },
  ADJUSTMENT_NOT_PENDING: { status: 409, title: 'The adjustment has already been decided' },
  ADJUSTMENT_CHANGED: { status: 409, title: 'The adjustment is not the payload that was proposed' },
  BREAK_NOT_OPEN: { status: 409, title: 'The break is no longer open' },
  UNKNOWN_INDEX: { status: 400, title: 'No token index has this code' },
  INDEX_FIXING_NOT_PUBLISHED: { status: 409, title: 'Only a published index fixing can be corrected' },
  INDEX_CORRECTION_NOT_PENDING: { status: 409, title: 'The index fixing correction has already been decided' },
  BANK_STATEMENT_INVALID: { status: 400, title: 'The bank statement file is malformed' },
  NO_PAYMENTS: { status: 409, title: 'No payments are due on that business date' },
  NO_VERIFIED_BANK_ACCOUNT: { status: 409, title: 'The member has no verified bank account to pay to' },
  BANK_ACCOUNT_NOT_PENDING: { status: 409, title: 'The bank account has already been decided' },
  DEFAULT_ALREADY_OPEN: { status: 409, title: 'The member already has a default proposed or in auction' },
  DEFAULT_NOT_PROPOSED: { status: 409, title: 'The default has already been decided' },
  AUCTION_CLOSED: { status: 409, title: 'The default auction is not taking bids' },
  NO_SUCH_LOT: { status: 422, title: "The defaulter's book has no lot in this series" },
  BUY_IN_NOT_POSSIBLE: { status: 409, title: 'The obligation has no undelivered tokens to buy in' },
  NO_STANDBY_CAPACITY: { status: 422, title: 'No standby offer covers the tokens to buy in' },
  MONTH_NOT_ARCHIVABLE: { status: 409, title: 'The month cannot be archived (not closed, not the oldest, not reconciled or no partition)' },
  INTERNAL: { status: 500, title: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'A dependency is unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface FieldError {
  field: string;
  message: string;
}

/** A failure the caller can act on; always rendered as problem+json with its code. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors?: FieldError[],
  ) {
    super(detail ?? ERROR_CATALOG[code].title);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);
