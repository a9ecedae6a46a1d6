import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../platform/errors/error-codes.js';
import { parsePain002 } from './pain002.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/iso20022/${name}`, import.meta.url), 'utf8');

function invalid(xml: string, field: string): void {
  let error: unknown;
  try {
    parsePain002(xml);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe('BANK_STATEMENT_INVALID');
  expect((error as DomainError).errors?.[0].field).toBe(field);
}

const report = (body: string, root = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">', close = '</Document>') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n${root}<CstmrPmtStsRpt><GrpHdr><MsgId>PSR1</MsgId><CreDtTm>2026-11-25T16:30:00+08:00</CreDtTm></GrpHdr>${body}</CstmrPmtStsRpt>${close}`;
const group = (sts = '') =>
  `<OrgnlGrpInfAndSts><OrgnlMsgId>TC-PAY-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>${sts}</OrgnlGrpInfAndSts>`;

describe('parsePain002', () => {
  it('reads a report with one rejected (AC04, closed account) and one settled payment', () => {
    expect(parsePain002(fixture('pain002-rjct-acsc.xml'))).toEqual({
      messageId: 'ICBC-PSR-20261125-01',
      originalMessageId: 'TC-PAY-20261125-01HX9Z',
      originalMessageNameId: 'pain.001.001.09',
      groupStatus: 'PART',
      groupReasons: [],
      paymentInformation: [{ originalPaymentInformationId: 'TC-PAY-20261125-01HX9Z', status: 'PART', reasons: [] }],
      transactions: [
        {
          originalEndToEndId: 'TC20261125A1B2C3D4E5F6A7B8C9D0E1F2',
          originalInstructionId: null,
          originalPaymentInformationId: 'TC-PAY-20261125-01HX9Z',
          status: 'RJCT',
          reasons: [{ code: 'AC04', proprietary: null, additionalInfo: ['Account closed on 2026-11-20'] }],
        },
        {
          originalEndToEndId: 'TC20261125B0B0B0B0B0B0B0B0B0B0B0B0',
          originalInstructionId: null,
          originalPaymentInformationId: 'TC-PAY-20261125-01HX9Z',
          status: 'ACSC',
          reasons: [],
        },
      ],
    });
  });

  it('reads a group-level rejection with its reason, and a prefixed document', () => {
    const xml = report(
      group('<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Prtry>CNAPS-E101</Prtry></Rsn><AddtlInf>Duplicate message id</AddtlInf></StsRsnInf>'),
      '<ps:Document xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ps="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">',
      '</ps:Document>',
    ).replace(/<(\/?)(?!ps:|\?)(\w+)/g, '<$1ps:$2');
    expect(parsePain002(xml)).toEqual({
      messageId: 'PSR1',
      originalMessageId: 'TC-PAY-1',
      originalMessageNameId: 'pain.001.001.09',
      groupStatus: 'RJCT',
      groupReasons: [{ code: null, proprietary: 'CNAPS-E101', additionalInfo: ['Duplicate message id'] }],
      paymentInformation: [],
      transactions: [],
    });
  });

  it('gives a transaction without TxSts the status of its block or group, never PART', () => {
    const tx = (e2e: string, sts = '') =>
      `<TxInfAndSts><OrgnlInstrId>I-${e2e}</OrgnlInstrId><OrgnlEndToEndId>${e2e}</OrgnlEndToEndId>${sts}</TxInfAndSts>`;
    const parsed = parsePain002(
      report(
        group('<GrpSts>ACCP</GrpSts>') +
          `<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><PmtInfSts>ACSC</PmtInfSts>${tx('A')}</OrgnlPmtInfAndSts>` +
          `<OrgnlPmtInfAndSts><OrgnlPmtInfId>P2</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>${tx('B')}${tx('C', '<TxSts>PDNG</TxSts>')}</OrgnlPmtInfAndSts>`,
      ),
    );
    expect(
      parsed.transactions.map((t) => [t.originalPaymentInformationId, t.originalInstructionId, t.originalEndToEndId, t.status]),
    ).toEqual([
      ['P1', 'I-A', 'A', 'ACSC'],
      ['P2', 'I-B', 'B', 'ACCP'],
      ['P2', 'I-C', 'C', 'PDNG'],
    ]);
  });

  it('refuses malformed reports, naming the element', () => {
    invalid(report(group('<GrpSts>ACSC</GrpSts>'), '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'), 'Document@xmlns');
    invalid(report(group('<GrpSts>ACSC</GrpSts>')).replace('<MsgId>PSR1</MsgId>', ''), 'GrpHdr/MsgId');
    invalid(report(''), 'CstmrPmtStsRpt/OrgnlGrpInfAndSts');
    invalid(report(group('<GrpSts>ACSC</GrpSts>').replace('<OrgnlMsgId>TC-PAY-1</OrgnlMsgId>', '')), 'OrgnlGrpInfAndSts/OrgnlMsgId');
    invalid(report(group('<GrpSts>accepted</GrpSts>')), 'OrgnlGrpInfAndSts/GrpSts');
    invalid(report(group()), 'CstmrPmtStsRpt');
    invalid(
      report(
        group() + '<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts></OrgnlPmtInfAndSts>',
      ),
      'OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/OrgnlEndToEndId',
    );
    invalid(
      report(
        group() +
          `<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>A</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><AddtlInf>${'x'.repeat(106)}</AddtlInf></StsRsnInf></TxInfAndSts></OrgnlPmtInfAndSts>`,
      ),
      'OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/StsRsnInf[1]/AddtlInf[1]',
    );
    invalid('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt></Document>', 'line 1, column 82');
  });
});
