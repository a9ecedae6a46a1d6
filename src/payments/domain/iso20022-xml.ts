import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DomainError } from '../../platform/errors/error-codes.js';

// What every ISO 20022 file the bank sends us has in common: well-formed XML, a Document root in
// the message's namespace (whatever prefix the bank chose), CNY amounts with at most 2 decimals.

export type XmlNode = Record<string, unknown>;

export function bad(where: string, message: string): DomainError {
  return new DomainError('BANK_STATEMENT_INVALID', `${where}: ${message}`, [{ field: where, message }]);
}

export const list = (v: unknown): XmlNode[] => (v === undefined ? [] : Array.isArray(v) ? (v as XmlNode[]) : [v as XmlNode]);

/** An element's text; undefined when absent, and for an element repeated where one is expected. */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const t = (v as XmlNode)['#text'];
  return typeof t === 'string' ? t : '';
}

/** Length as XML Schema counts it: in characters (code points), so a surrogate pair is one. */
export const charLength = (s: string): number => s.length - (s.match(/[\ud800-\udbff][\udc00-\udfff]/g)?.length ?? 0);

export const child = (node: unknown, name: string): XmlNode | undefined =>
  node !== null && typeof node === 'object' ? ((node as XmlNode)[name] as XmlNode | undefined) : undefined;

/** Follows a path of single children: path(n, 'Tp', 'CdOrPrtry', 'Cd'). */
export function path(node: unknown, ...names: string[]): unknown {
  let at: unknown = node;
  for (const name of names) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as XmlNode)[name];
  }
  return at;
}

const AMOUNT = /^(0|[1-9]\d{0,15})(\.\d{1,2})?$/;

/** A non-negative decimal string with at most 2 decimals → fen. */
export function fen(amount: string, where: string): bigint {
  if (!AMOUNT.test(amount)) throw bad(where, `amount ${JSON.stringify(amount)} is not a CNY amount with at most 2 decimals`);
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0'));
}

/** An ActiveOrHistoricCurrencyAndAmount element (`<Amt Ccy="CNY">12.30</Amt>`) → fen; CNY only. */
export function cnyAmount(node: unknown, where: string): bigint {
  if (node === undefined) throw bad(where, 'missing');
  const ccy = typeof node === 'object' && node !== null ? (node as XmlNode)['@Ccy'] : undefined;
  if (ccy !== 'CNY') throw bad(`${where}@Ccy`, `currency must be CNY, got ${JSON.stringify(ccy ?? '')}`);
  return fen(text(node) ?? '', where);
}

/** Max35Text and friends: present, 1..max characters (code points, as XML Schema counts them). */
export function maxText(value: string | undefined, max: number, where: string): string {
  if (value === undefined || value === '') throw bad(where, 'missing');
  if (charLength(value) > max) throw bad(where, `at most ${max} characters`);
  return value;
}

export function optionalMaxText(value: string | undefined, max: number, where: string): string | null {
  return value === undefined || value === '' ? null : maxText(value, max, where);
}

/**
 * Parses a file and returns its Document's message element (e.g. BkToCstmrStmt) with namespace
 * prefixes removed. The namespace checked is the one the Document element itself is in — resolved
 * from its own prefix (or the default namespace) — not the first xmlns attribute in the text: the
 * root element can only be bound by a declaration on itself, so that is where we look.
 */
export function readIsoDocument(xml: string, namespace: RegExp, messageElement: string, expected: string): XmlNode {
  // Bank files never carry a DTD; refusing one keeps entity expansion (billion laughs, XXE) out.
  if (/<!DOCTYPE/i.test(xml)) throw bad('Document', 'a document type declaration (DOCTYPE) is not allowed');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw bad(`line ${valid.err.line}, column ${valid.err.col}`, valid.err.msg);
  const options = { ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false } as const;
  const raw = new XMLParser(options).parse(xml) as XmlNode;
  const rootName = Object.keys(raw).find((k) => !k.startsWith('?'));
  if (!rootName) throw bad('Document', 'missing root element Document');
  const [prefix, local] = rootName.includes(':') ? rootName.split(':', 2) : [undefined, rootName];
  if (local !== 'Document') throw bad('Document', `the root element must be Document, got ${rootName}`);
  const root = raw[rootName];
  const ns = typeof root === 'object' && root !== null ? (root as XmlNode)[prefix ? `@xmlns:${prefix}` : '@xmlns'] : undefined;
  if (typeof ns !== 'string' || !namespace.test(ns))
    throw bad('Document@xmlns', `expected a ${expected} namespace, got ${JSON.stringify(ns ?? null)}`);
  const doc = new XMLParser({ ...options, removeNSPrefix: true }).parse(xml) as XmlNode;
  const message = path(doc, 'Document', messageElement);
  if (message === undefined || message === null || typeof message !== 'object' || Array.isArray(message))
    throw bad(`Document/${messageElement}`, 'missing');
  return message as XmlNode;
}
