import { createHash } from 'node:crypto';
import { formatFen } from '../../platform/money/money.js';
import { isValidIsoDate } from '../../platform/time/business-date.js';
import { bad, cnyAmount, fen, list, maxText, optionalMaxText, path, readIsoDocument, text, type XmlNode } from './iso20022-xml.js';

export interface StatementEntry {
  /** The bank's reference for this booking (≤ 35); derived when the file has none — see bankRefDerived. */
  bankRef: string;
  endToEndId: string | null;
  direction: 'CRDT' | 'DBIT';
  amountFen: bigint;
  bookingDate: string;
  /** True when the file gave no AcctSvcrRef and the reference was derived (still the same for the same file). */
  bankRefDerived?: boolean;
}

export interface StatementBalances {
  /** Opening booked balance (OPBD, or PRCD when the bank states the previous closing instead); negative when DBIT. */
  openingFen: bigint;
  /** Closing booked balance (CLBD); negative when DBIT. */
  closingFen: bigint;
  /** opening + Σ credits − Σ debits over the statement's entries. */
  computedClosingFen: bigint;
  consistent: boolean;
}

export interface ParsedStatement {
  statementId: string;
  entries: StatementEntry[];
  /** Null when the file states no opening or no closing booked balance (the CSV format never does). */
  balances: StatementBalances | null;
}

const CAMT053 = /^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d{2}$/;

const direction = (v: unknown, where: string): 'CRDT' | 'DBIT' => {
  const d = text(v);
  if (d !== 'CRDT' && d !== 'DBIT') throw bad(where, 'must be CRDT or DBIT');
  return d;
};
const signed = (amountFen: bigint, d: 'CRDT' | 'DBIT') => (d === 'DBIT' ? -amountFen : amountFen);

/**
 * A reference for a booking the bank gave none usable for: from the entry's AcctSvcrRef and the
 * position in the batch when there is one (stable across statements), else from the statement id,
 * NtryRef and positions — the same file always yields the same references, so a re-import is still
 * recognised as booked. 35 characters: "DRV" + 32 hex digits of a SHA-256.
 */
function derivedRef(...parts: (string | number)[]): string {
  return `DRV${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32).toUpperCase()}`;
}

function balance(bals: XmlNode[], codes: string[], where: string): bigint | null {
  for (const code of codes) {
    const found = bals.filter((b) => text(path(b, 'Tp', 'CdOrPrtry', 'Cd')) === code);
    if (found.length > 1) throw bad(`${where}[${code}]`, `the balance ${code} is stated ${found.length} times`);
    if (found.length === 1) {
      const at = `${where}[${code}]`;
      return signed(cnyAmount(found[0].Amt, `${at}/Amt`), direction(found[0].CdtDbtInd, `${at}/CdtDbtInd`));
    }
  }
  return null;
}

/**
 * ISO 20022 camt.053 (bank-to-customer statement, read as version 08), the parts reconciliation
 * needs. Each TxDtls of a batched entry is its own entry; the opening and closing booked balances
 * are checked against the entries.
 */
export function parseCamt053(xml: string): ParsedStatement {
  const message = readIsoDocument(xml, CAMT053, 'BkToCstmrStmt', 'camt.053');
  const stmts = list(message.Stmt);
  if (stmts.length !== 1) throw bad('BkToCstmrStmt/Stmt', `expected exactly one statement, found ${stmts.length}`);
  const stmt = stmts[0];
  const statementId = maxText(text(stmt.Id), 35, 'Stmt/Id');

  const entries: StatementEntry[] = [];
  let movementFen = 0n;
  list(stmt.Ntry).forEach((n, i) => {
    const where = `Stmt/Ntry[${i + 1}]`;
    const entryFen = cnyAmount(n.Amt, `${where}/Amt`);
    const entryDirection = direction(n.CdtDbtInd, `${where}/CdtDbtInd`);
    const bookingDate = text(path(n, 'BookgDt', 'Dt'));
    if (!bookingDate || !isValidIsoDate(bookingDate)) throw bad(`${where}/BookgDt/Dt`, 'must be a date YYYY-MM-DD');
    const entryRef = optionalMaxText(text(n.AcctSvcrRef), 35, `${where}/AcctSvcrRef`);
    // NtryRef is unique within the statement only, so it keys a derived reference, never stands alone.
    const ntryRef = optionalMaxText(text(n.NtryRef), 35, `${where}/NtryRef`);
    movementFen += signed(entryFen, entryDirection);

    const txs = list(n.NtryDtls).flatMap((d) => list(d.TxDtls));
    const batched = txs.length > 1;
    const parts = (txs.length === 0 ? [undefined] : txs).map((tx, k): StatementEntry => {
      const at = batched ? `${where}/NtryDtls/TxDtls[${k + 1}]` : `${where}/NtryDtls/TxDtls`;
      const e2e = optionalMaxText(text(path(tx, 'Refs', 'EndToEndId')), 35, `${at}/Refs/EndToEndId`);
      // A single transaction is the entry: what was booked is the entry's amount (a TxDtls amount
      // may be the instructed one, before charges or in another currency). A batch is split by the
      // transactions' own amounts, which must add up to the entry.
      let amountFen = entryFen;
      let txDirection = entryDirection;
      if (batched) {
        const txAmountAt = tx?.Amt !== undefined ? `${at}/Amt` : `${at}/AmtDtls/TxAmt/Amt`;
        const txAmount = tx?.Amt ?? path(tx, 'AmtDtls', 'TxAmt', 'Amt');
        if (txAmount === undefined) throw bad(txAmountAt, 'a batched entry needs the amount of each transaction');
        amountFen = cnyAmount(txAmount, txAmountAt);
        if (tx?.CdtDbtInd !== undefined) txDirection = direction(tx.CdtDbtInd, `${at}/CdtDbtInd`);
      }
      const txRef = optionalMaxText(text(path(tx, 'Refs', 'AcctSvcrRef')), 35, `${at}/Refs/AcctSvcrRef`);
      // The bank's own references first: the transaction's, else the entry's (with the position in
      // the batch when that still fits 35); only without either, a reference derived from the file.
      const positioned = entryRef === null ? null : `${entryRef}/${k + 1}`;
      const own = !batched ? (entryRef ?? txRef) : (txRef ?? (positioned && positioned.length <= 35 ? positioned : null));
      const bankRef = own ?? (entryRef ? derivedRef(entryRef, k + 1) : derivedRef(statementId, ntryRef ?? '', i + 1, k + 1));
      return {
        bankRef,
        endToEndId: e2e === 'NOTPROVIDED' ? null : e2e,
        direction: txDirection,
        amountFen,
        bookingDate,
        ...(own === null ? { bankRefDerived: true } : {}),
      };
    });
    if (batched) {
      const sum = parts.reduce((s, p) => s + signed(p.amountFen, p.direction), 0n);
      if (sum !== signed(entryFen, entryDirection))
        throw bad(
          `${where}/NtryDtls`,
          `the transactions add up to ${formatFen(sum)}, the entry is ${formatFen(signed(entryFen, entryDirection))}`,
        );
    }
    // A reference booked twice is not refused here: matching reports it as a DUPLICATE break.
    entries.push(...parts);
  });

  const bals = list(stmt.Bal);
  const openingFen = balance(bals, ['OPBD', 'PRCD'], 'Stmt/Bal');
  const closingFen = balance(bals, ['CLBD'], 'Stmt/Bal');
  const balances =
    openingFen === null || closingFen === null
      ? null
      : { openingFen, closingFen, computedClosingFen: openingFen + movementFen, consistent: openingFen + movementFen === closingFen };
  return { statementId, entries, balances };
}

/** The documented CSV alternative: bookingDate,direction,amount,currency,endToEndId,bankRef. */
export function parseStatementCsv(csv: string): ParsedStatement {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = 'bookingDate,direction,amount,currency,endToEndId,bankRef';
  if (lines[0]?.trim() !== header) throw bad('line 1', `header must be ${header}`);
  const entries = lines.slice(1).map((line, i): StatementEntry => {
    const where = `line ${i + 2}`;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 6) throw bad(where, `expected 6 fields, found ${cells.length}`);
    const [bookingDate, direction, amount, currency, endToEndId, bankRef] = cells;
    if (!isValidIsoDate(bookingDate)) throw bad(where, 'bookingDate must be YYYY-MM-DD');
    if (direction !== 'CRDT' && direction !== 'DBIT') throw bad(where, 'direction must be CRDT or DBIT');
    if (currency !== 'CNY') throw bad(where, 'currency must be CNY');
    if (!bankRef || bankRef.length > 35) throw bad(where, 'bankRef (1-35 characters) is required');
    return { bookingDate, direction, amountFen: fen(amount, where), endToEndId: endToEndId || null, bankRef };
  });
  return { statementId: `CSV-${entries[0]?.bookingDate ?? 'empty'}`, entries, balances: null };
}
