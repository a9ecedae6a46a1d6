import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DomainError } from '../../platform/errors/error-codes.js';
import { isValidIsoDate } from '../../platform/time/business-date.js';

export interface StatementEntry {
  bankRef: string;
  endToEndId: string | null;
  direction: 'CRDT' | 'DBIT';
  amountFen: bigint;
  bookingDate: string;
}

export interface ParsedStatement {
  statementId: string;
  entries: StatementEntry[];
}

const AMOUNT = /^(0|[1-9]\d{0,15})(\.\d{1,2})?$/;

function fen(amount: string, where: string): bigint {
  if (!AMOUNT.test(amount)) throw bad(where, `amount ${JSON.stringify(amount)} is not a CNY amount with at most 2 decimals`);
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0'));
}

function bad(where: string, message: string): DomainError {
  return new DomainError('BANK_STATEMENT_INVALID', `${where}: ${message}`, [{ field: where, message }]);
}

type Node = Record<string, unknown>;
const list = (v: unknown): Node[] => (v === undefined ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node]);
/** Tag values are not parsed (parseTagValue: false), so a leaf is a string; anything else reads as empty. */
const scalar = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
// An element with attributes keeps its text under '#text'.
const text = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'object' ? scalar((v as Node)['#text']) : scalar(v);

/** ISO 20022 camt.053.001.08 (bank-to-customer statement), the parts reconciliation needs. */
export function parseCamt053(xml: string): ParsedStatement {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw bad(`line ${valid.err.line}, column ${valid.err.col}`, valid.err.msg);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, removeNSPrefix: true }).parse(
    xml,
  ) as Node;
  const document = doc.Document as Node | undefined;
  if (!document) throw bad('Document', 'missing root element Document');
  // The namespace declaration (default or prefixed) names the message type and version.
  const ns = /xmlns(?::\w+)?="([^"]*)"/.exec(xml)?.[1] ?? '';
  if (!ns.includes('camt.053')) throw bad('Document@xmlns', `expected a camt.053 namespace, got ${JSON.stringify(ns)}`);
  const statement = (document.BkToCstmrStmt as Node | undefined)?.Stmt;
  const stmts = list(statement);
  if (stmts.length !== 1) throw bad('BkToCstmrStmt/Stmt', `expected exactly one statement, found ${stmts.length}`);
  const stmt = stmts[0];
  const statementId = text(stmt.Id);
  if (!statementId) throw bad('Stmt/Id', 'missing');
  const entries = list(stmt.Ntry).map((n, i): StatementEntry => {
    const where = `Stmt/Ntry[${i + 1}]`;
    const amt = n.Amt as Node | string | undefined;
    const ccy = typeof amt === 'object' ? scalar(amt['@Ccy']) : '';
    if (ccy !== 'CNY') throw bad(`${where}/Amt@Ccy`, `currency must be CNY, got ${JSON.stringify(ccy)}`);
    const direction = text(n.CdtDbtInd);
    if (direction !== 'CRDT' && direction !== 'DBIT') throw bad(`${where}/CdtDbtInd`, 'must be CRDT or DBIT');
    const bookingDate = text((n.BookgDt as Node | undefined)?.Dt);
    if (!bookingDate || !isValidIsoDate(bookingDate)) throw bad(`${where}/BookgDt/Dt`, 'must be a date YYYY-MM-DD');
    const bankRef = text(n.AcctSvcrRef);
    if (!bankRef || bankRef.length > 35) throw bad(`${where}/AcctSvcrRef`, 'the bank reference (1-35 characters) is required');
    const tx = list((n.NtryDtls as Node | undefined)?.TxDtls)[0];
    const endToEndId = text((tx?.Refs as Node | undefined)?.EndToEndId) ?? null;
    if (endToEndId && endToEndId.length > 35) throw bad(`${where}/NtryDtls/TxDtls/Refs/EndToEndId`, 'at most 35 characters');
    return {
      bankRef,
      endToEndId: endToEndId === 'NOTPROVIDED' ? null : endToEndId,
      direction,
      amountFen: fen(text(amt) ?? '', `${where}/Amt`),
      bookingDate,
    };
  });
  return { statementId, entries };
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
  return { statementId: `CSV-${entries[0]?.bookingDate ?? 'empty'}`, entries };
}
