import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../platform/errors/error-codes.js';
import { parseCamt053, parseStatementCsv } from './camt053.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/iso20022/${name}`, import.meta.url), 'utf8');

function invalid(xml: string, field: string | RegExp): void {
  let error: unknown;
  try {
    parseCamt053(xml);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe('BANK_STATEMENT_INVALID');
  const actual = (error as DomainError).errors?.[0].field;
  if (typeof field === 'string') expect(actual).toBe(field);
  else expect(actual).toMatch(field);
}

/** A small camt.053.001.08 around the given entries and balances. */
function statement(
  body: string,
  root = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">',
  close = '</Document>',
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>2026-11-25T18:00:00+08:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>${body}</Stmt></BkToCstmrStmt>${close}`;
}
const ntry = (inner: string, amount = '10.00', dir = 'CRDT') =>
  `<Ntry><Amt Ccy="CNY">${amount}</Amt><CdtDbtInd>${dir}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-25</Dt></BookgDt>${inner}</Ntry>`;

describe('parseCamt053', () => {
  it('reads a file that declares xmlns:xsi before the default namespace', () => {
    expect(parseCamt053(fixture('camt053-xsi-first.xml'))).toEqual({
      statementId: 'STMT-20261125-XSI',
      entries: [
        {
          bankRef: 'BK20261125001',
          endToEndId: 'TC20261125A1B2C3D4E5F6A7B8C9D0E1F2',
          direction: 'DBIT',
          amountFen: 10_000n,
          bookingDate: '2026-11-25',
        },
        { bankRef: 'BK20261125002', endToEndId: null, direction: 'CRDT', amountFen: 13_000n, bookingDate: '2026-11-25' },
      ],
      balances: { openingFen: 1_000_000n, closingFen: 1_003_000n, computedClosingFen: 1_003_000n, consistent: true },
    });
  });

  it('reads a prefixed document, whatever the default namespace is', () => {
    expect(parseCamt053(fixture('camt053-prefixed.xml'))).toEqual({
      statementId: 'STMT-20261125-PFX',
      entries: [{ bankRef: 'BOC7-0001', endToEndId: 'TC20261125C0FFEE', direction: 'CRDT', amountFen: 3_005n, bookingDate: '2026-11-25' }],
      balances: { openingFen: 0n, closingFen: 3_005n, computedClosingFen: 3_005n, consistent: true },
    });
  });

  it('splits a batched entry into one entry per TxDtls, each with its own id, amount and reference', () => {
    expect(parseCamt053(fixture('camt053-batched.xml'))).toEqual({
      statementId: 'STMT-20261126-BATCH',
      entries: [
        { bankRef: 'CCB0001', endToEndId: 'TC20261126COLLECT01', direction: 'CRDT', amountFen: 100_000n, bookingDate: '2026-11-26' },
        // No reference of its own: the entry's, with its place in the batch.
        { bankRef: 'CCB0002/1', endToEndId: 'TC20261126PAY01', direction: 'DBIT', amountFen: 10_000n, bookingDate: '2026-11-26' },
        // The bank's reference for the transaction itself.
        { bankRef: 'CCB0002-TX2', endToEndId: 'TC20261126PAY02', direction: 'DBIT', amountFen: 20_010n, bookingDate: '2026-11-26' },
        // Amount from AmtDtls/TxAmt/Amt, direction from the entry.
        { bankRef: 'CCB0002/3', endToEndId: 'TC20261126PAY03', direction: 'DBIT', amountFen: 29_990n, bookingDate: '2026-11-26' },
      ],
      // Opening overdrawn by 50.00: -5000 + 100000 - 60000 = 35000.
      balances: { openingFen: -5_000n, closingFen: 35_000n, computedClosingFen: 35_000n, consistent: true },
    });
  });

  it('derives a reference, the same on every read of the file, when an entry has no AcctSvcrRef', () => {
    const expected = {
      statementId: 'STMT-20261127-NOREF',
      entries: [
        {
          bankRef: 'DRV513601AB5ADC7AFDBAEFA73D3068B2F6',
          bankRefDerived: true,
          endToEndId: 'DEP-M-0001',
          direction: 'CRDT',
          amountFen: 8_880n,
          bookingDate: '2026-11-27',
        },
        {
          bankRef: 'DRVE772E80C66C7B76EE6D0526CE0E3B63A',
          bankRefDerived: true,
          endToEndId: null,
          direction: 'DBIT',
          amountFen: 1_200n,
          bookingDate: '2026-11-27',
        },
      ],
      balances: null,
    };
    const xml = fixture('camt053-no-acctsvcrref.xml');
    expect(parseCamt053(xml)).toEqual(expected);
    expect(parseCamt053(xml)).toEqual(expected);
    for (const e of expected.entries) expect(e.bankRef).toHaveLength(35);
    // Another statement with the same entries gets other references.
    const other = parseCamt053(xml.replace('STMT-20261127-NOREF', 'STMT-20261128-NOREF'));
    expect(other.entries.map((e) => e.bankRef)).not.toContain(expected.entries[0].bankRef);
  });

  it('reports a closing balance that opening + credits - debits does not reach', () => {
    expect(parseCamt053(fixture('camt053-wrong-closing.xml'))).toEqual({
      statementId: 'STMT-20261128-BAD',
      entries: [
        { bankRef: 'ABC28-01', endToEndId: 'DEP-M-0002', direction: 'CRDT', amountFen: 50_000n, bookingDate: '2026-11-28' },
        { bankRef: 'ABC28-02', endToEndId: 'TC20261128PAY01', direction: 'DBIT', amountFen: 20_000n, bookingDate: '2026-11-28' },
      ],
      balances: { openingFen: 100_000n, closingFen: 140_000n, computedClosingFen: 130_000n, consistent: false },
    });
  });

  it('takes PRCD as the opening balance when there is no OPBD', () => {
    const bal = (code: string, amount: string, dir: string) =>
      `<Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">${amount}</Amt><CdtDbtInd>${dir}</CdtDbtInd><Dt><Dt>2026-11-25</Dt></Dt></Bal>`;
    const parsed = parseCamt053(
      statement(bal('PRCD', '1.00', 'DBIT') + bal('CLBD', '0.50', 'DBIT') + ntry('<AcctSvcrRef>R1</AcctSvcrRef>', '0.50')),
    );
    expect(parsed.balances).toEqual({ openingFen: -100n, closingFen: -50n, computedClosingFen: -50n, consistent: true });
  });

  it('refuses files that are not camt.053 by the namespace of their Document, not the first xmlns in the text', () => {
    const entry = ntry('<AcctSvcrRef>R1</AcctSvcrRef>');
    // The first xmlns in the text is camt.053, but the Document is in the pain.002 namespace.
    invalid(
      statement(
        entry,
        '<p:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08" xmlns:p="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">',
        '</p:Document>',
      ),
      'Document@xmlns',
    );
    invalid(statement(entry, '<Document>'), 'Document@xmlns');
    invalid(statement(entry, '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08">'), 'Document@xmlns');
    invalid(statement(entry, '<Statement xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">', '</Statement>'), 'Document');
    invalid('<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaa">]>\n<Document/>', 'Document');
    invalid('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n  <BkToCstmrStmt>\n</Document>', /^line \d+/);
  });

  it('keeps the existing validations: CNY, two decimals, booking dates, 35-character ids', () => {
    invalid(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>').replace('Ccy="CNY"', 'Ccy="USD"')), 'Stmt/Ntry[1]/Amt@Ccy');
    invalid(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>', '1.005')), 'Stmt/Ntry[1]/Amt');
    invalid(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>', '-1.00')), 'Stmt/Ntry[1]/Amt');
    invalid(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>').replace('2026-11-25', '2026-02-30')), 'Stmt/Ntry[1]/BookgDt/Dt');
    invalid(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>', '1.00', 'CRED')), 'Stmt/Ntry[1]/CdtDbtInd');
    invalid(statement(ntry(`<AcctSvcrRef>${'R'.repeat(36)}</AcctSvcrRef>`)), 'Stmt/Ntry[1]/AcctSvcrRef');
    invalid(
      statement(ntry(`<NtryDtls><TxDtls><Refs><EndToEndId>${'E'.repeat(36)}</EndToEndId></Refs></TxDtls></NtryDtls>`)),
      'Stmt/Ntry[1]/NtryDtls/TxDtls/Refs/EndToEndId',
    );
    invalid(
      statement('<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>'),
      'Stmt/Bal[CLBD]/Amt@Ccy',
    );
  });

  it('refuses a batch whose transactions lack amounts or do not add up to the entry', () => {
    const tx = (e2e: string, amount?: string) =>
      `<TxDtls><Refs><EndToEndId>${e2e}</EndToEndId></Refs>${amount ? `<Amt Ccy="CNY">${amount}</Amt>` : ''}</TxDtls>`;
    invalid(
      statement(ntry(`<AcctSvcrRef>R1</AcctSvcrRef><NtryDtls>${tx('A', '4.00')}${tx('B')}</NtryDtls>`)),
      'Stmt/Ntry[1]/NtryDtls/TxDtls[2]/AmtDtls/TxAmt/Amt',
    );
    invalid(
      statement(ntry(`<AcctSvcrRef>R1</AcctSvcrRef><NtryDtls>${tx('A', '4.00')}${tx('B', '5.00')}</NtryDtls>`)),
      'Stmt/Ntry[1]/NtryDtls',
    );
    const ok = parseCamt053(statement(ntry(`<AcctSvcrRef>R1</AcctSvcrRef><NtryDtls>${tx('A', '4.00')}${tx('B', '6.00')}</NtryDtls>`)));
    expect(ok.entries.map((e) => [e.bankRef, e.endToEndId, e.amountFen])).toEqual([
      ['R1/1', 'A', 400n],
      ['R1/2', 'B', 600n],
    ]);
  });

  it('books a single-transaction entry at the entry amount, whatever amount its TxDtls instructed', () => {
    const parsed = parseCamt053(
      statement(
        ntry(
          '<AcctSvcrRef>R1</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>A</EndToEndId></Refs><Amt Ccy="USD">1.50</Amt></TxDtls></NtryDtls>',
          '9.95',
          'DBIT',
        ),
      ),
    );
    expect(parsed.entries).toEqual([{ bankRef: 'R1', endToEndId: 'A', direction: 'DBIT', amountFen: 995n, bookingDate: '2026-11-25' }]);
  });

  it('keeps the bank reference within 35 characters in a batch, deriving one when the position does not fit', () => {
    const tx = (e2e: string) => `<TxDtls><Refs><EndToEndId>${e2e}</EndToEndId></Refs><Amt Ccy="CNY">5.00</Amt></TxDtls>`;
    const ref = 'R'.repeat(34);
    const parsed = parseCamt053(statement(ntry(`<AcctSvcrRef>${ref}</AcctSvcrRef><NtryDtls>${tx('A')}${tx('B')}</NtryDtls>`)));
    expect(parsed.entries.map((e) => e.bankRefDerived)).toEqual([true, true]);
    expect(new Set(parsed.entries.map((e) => e.bankRef)).size).toBe(2);
    for (const e of parsed.entries) expect(e.bankRef).toMatch(/^DRV[0-9A-F]{32}$/);
    // Derived from the bank's entry reference, so the same booking in another statement keeps it.
    const again = parseCamt053(
      statement(ntry(`<AcctSvcrRef>${ref}</AcctSvcrRef><NtryDtls>${tx('A')}${tx('B')}</NtryDtls>`)).replace('<Id>S1</Id>', '<Id>S2</Id>'),
    );
    expect(again.entries.map((e) => e.bankRef)).toEqual(parsed.entries.map((e) => e.bankRef));
  });

  it('leaves a reference booked twice to matching (a DUPLICATE there), not a parse error', () => {
    const parsed = parseCamt053(statement(ntry('<AcctSvcrRef>R1</AcctSvcrRef>') + ntry('<AcctSvcrRef>R1</AcctSvcrRef>')));
    expect(parsed.entries.map((e) => e.bankRef)).toEqual(['R1', 'R1']);
  });
});

describe('parseStatementCsv', () => {
  it('still reads the documented CSV, with no balances', () => {
    expect(parseStatementCsv('bookingDate,direction,amount,currency,endToEndId,bankRef\n2026-11-25,CRDT,30.00,CNY,TC1,BK0100\n')).toEqual({
      statementId: 'CSV-2026-11-25',
      entries: [{ bookingDate: '2026-11-25', direction: 'CRDT', amountFen: 3_000n, endToEndId: 'TC1', bankRef: 'BK0100' }],
      balances: null,
    });
    expect(() => parseStatementCsv('bookingDate,direction\n')).toThrow(DomainError);
  });
});
