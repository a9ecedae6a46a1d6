import { XMLParser } from 'fast-xml-parser';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endToEndId } from '../../src/payments/payments.service.js';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/iso20022');
const XSD = join(FIXTURES, 'pain.001.001.09.xsd');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'tc-pain001-'));
let files = 0;

/** xmllint --schema on the file as exported; throws with xmllint's message when it does not validate. */
function validatePain001(xml: string): void {
  const file = join(tmp, `export-${++files}.xml`);
  writeFileSync(file, xml);
  execFileSync('xmllint', ['--noout', '--schema', XSD, file], { stdio: 'pipe' });
}

interface Pain001 {
  Document: {
    CstmrCdtTrfInitn: {
      GrpHdr: { MsgId: string; NbOfTxs: string; CtrlSum: string };
      PmtInf: {
        PmtInfId: string;
        Dbtr: { Nm: string };
        DbtrAcct: { Id: { Othr: { Id: string } } };
        DbtrAgt: { FinInstnId: { ClrSysMmbId: { MmbId: string } } };
        CdtTrfTxInf: {
          PmtId: { EndToEndId: string };
          Amt: { InstdAmt: { '#text': string } };
          CdtrAgt: { FinInstnId: { ClrSysMmbId: { MmbId: string } } };
          Cdtr: { Nm: string };
          CdtrAcct: { Id: { Othr: { Id: string } } };
        }[];
      };
    };
  };
}
const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, parseTagValue: false, isArray: (name) => name === 'CdtTrfTxInf' }).parse(xml) as Pain001;

interface StatementResponse {
  entries: number;
  matched: number;
  breaks: number;
  replayed: boolean;
  balances: { opening: string; closing: string; computedClosing: string; consistent: boolean } | null;
  items: { bankRef: string; endToEndId: string | null; amount: string; status: string; matchedType: string | null }[];
}
interface StatusResponse {
  replayed: boolean;
  items: { endToEndId: string; status: string; reasonCode: string | null; outcome: string; amount: string | null }[];
}
interface BreakRow {
  type: string;
  key: string;
  memberId: string | null;
  unit: string;
  expected: string;
  actual: string;
  difference: string;
  references: Record<string, string | null>;
}

describe('ISO 20022 with the bank: pain.001 out, camt.053 and pain.002 in (SPEC §6.5)', () => {
  let t: TestApp;
  let day: string;
  const payees = new Map<string, { member: TestMember; account: { bankCode: string; accountNumber: string; holderName: string } }>();
  const CCP = { CCP_NAME: 'TokenClear Central Counterparty', CCP_BANK_CODE: '102100000030', CCP_ACCOUNT_NUMBER: '0200049609000012345' };

  const upload = (xml: string) =>
    t.clearing.request<StatementResponse>('POST', '/v1/bank-statements', xml, { 'content-type': 'application/xml' });
  const statusReport = (xml: string) =>
    t.clearing.request<StatusResponse>('POST', '/v1/payment-status-reports', xml, { 'content-type': 'application/xml' });
  const cash = async (m: TestMember) => (await t.clearing.get<{ cash: string }>(`/v1/members/${m.id}/balances`)).body.cash;
  const breaks = async (type: string) =>
    (await t.clearing.get<{ items: BreakRow[] }>(`/v1/reconciliation/breaks?status=OPEN&type=${type}&limit=500`)).body.items;
  const e2e = (name: string) => endToEndId(day, payees.get(name)!.member.id);
  const deposit = (m: TestMember, amount: string, reference: string) =>
    t.clearing.post(`/v1/members/${m.id}/deposits`, { amount, currency: 'CNY', reference });

  /** A member with a verified account who withdrew `amount` today, approved: a PAY instruction of that amount. */
  async function payee(name: string, amount: string): Promise<void> {
    const member = await createMember(t, 'TRADER');
    const account = await verifiedBankAccount(t, member, { holderName: `${name} 有限公司` });
    expect((await deposit(member, '1000.00', `FUND-${member.id.slice(0, 8)}`)).status).toBe(201);
    const w = await member.client.post<{ id: string }>(`/v1/members/${member.id}/withdrawals`, { amount, currency: 'CNY' });
    expect(w.status, w.text).toBe(201);
    expect((await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`)).status).toBe(200);
    payees.set(name, { member, account });
  }

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error', ...CCP } });
    day = t.app.get(Clock).businessDate();
    for (const [name, amount] of [
      ['xsi', '100.00'],
      ['batch1', '100.00'],
      ['batch2', '200.10'],
      ['batch3', '299.90'],
      ['closing', '200.00'],
      ['rejected', '100.00'],
      ['settled', '50.00'],
    ] as const)
      await payee(name, amount);
  });
  afterAll(() => t.close());

  it('exports pain.001 that validates against the schema: CCP debtor from config, verified creditor accounts, a new MsgId each time, the same EndToEndIds', async () => {
    const exported: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await t.clearing.request('GET', `/v1/payment-instructions?businessDate=${day}&format=pain001`);
      expect(res.status, res.text).toBe(200);
      validatePain001(res.text);
      exported.push(res.text);
    }
    const [first, second] = exported.map((x) => parse(x).Document.CstmrCdtTrfInitn);
    expect(first.GrpHdr.MsgId).not.toBe(second.GrpHdr.MsgId);
    for (const f of [first, second]) expect(f.GrpHdr.MsgId).toMatch(new RegExp(`^TC-${day.replace(/-/g, '')}-[A-Z0-9-]{1,23}$`));
    expect(first.GrpHdr.MsgId.length).toBeLessThanOrEqual(35);
    const ids = (f: typeof first) => f.PmtInf.CdtTrfTxInf.map((x) => x.PmtId.EndToEndId).sort();
    expect(ids(second)).toEqual(ids(first));
    expect(ids(first)).toEqual([...payees.keys()].map(e2e).sort());
    expect(first.GrpHdr).toMatchObject({ NbOfTxs: '7', CtrlSum: '1050.00' });
    expect(first.PmtInf.Dbtr.Nm).toBe(CCP.CCP_NAME);
    expect(first.PmtInf.DbtrAcct.Id.Othr.Id).toBe(CCP.CCP_ACCOUNT_NUMBER);
    expect(first.PmtInf.DbtrAgt.FinInstnId.ClrSysMmbId.MmbId).toBe(CCP.CCP_BANK_CODE);
    const byE2e = new Map(first.PmtInf.CdtTrfTxInf.map((x) => [x.PmtId.EndToEndId, x]));
    for (const [name, { account }] of payees) {
      const tx = byE2e.get(e2e(name))!;
      expect([tx.CdtrAcct.Id.Othr.Id, tx.Cdtr.Nm, tx.CdtrAgt.FinInstnId.ClrSysMmbId.MmbId]).toEqual([
        account.accountNumber,
        account.holderName,
        account.bankCode,
      ]);
    }
  });

  it('camt.053 with xmlns:xsi declared first: read, the payment matched, the unknown credit a break, balances consistent', async () => {
    const res = await upload(fixture('camt053-xsi-first.xml').replace('TC20261125A1B2C3D4E5F6A7B8C9D0E1F2', e2e('xsi')));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ entries: 2, matched: 1, breaks: 1, replayed: false });
    expect(res.body.balances).toEqual({ opening: '10000.00', closing: '10030.00', computedClosing: '10030.00', consistent: true });
    expect(res.body.items.map((i) => `${i.bankRef}:${i.amount}:${i.status}`)).toEqual([
      'BK20261125001:100.00:MATCHED',
      'BK20261125002:130.00:UNMATCHED',
    ]);
  });

  it('camt.053 with a camt: prefix on every element: the credit matches a recorded deposit', async () => {
    const m = payees.get('xsi')!.member;
    expect((await deposit(m, '30.05', 'TC20261125C0FFEE')).status).toBe(201);
    const res = await upload(fixture('camt053-prefixed.xml'));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ entries: 1, matched: 1, breaks: 0 });
    expect(res.body.items).toEqual([expect.objectContaining({ bankRef: 'BOC7-0001', status: 'MATCHED', matchedType: 'DEPOSIT' })]);
    expect(res.body.balances).toMatchObject({ closing: '30.05', consistent: true });
  });

  it('camt.053 with a batched entry of three TxDtls: all three payments matched by their own end-to-end id and amount', async () => {
    expect((await deposit(payees.get('batch1')!.member, '1000.00', 'TC20261126COLLECT01')).status).toBe(201);
    const xml = fixture('camt053-batched.xml')
      .replace('TC20261126PAY01', e2e('batch1'))
      .replace('TC20261126PAY02', e2e('batch2'))
      .replace('TC20261126PAY03', e2e('batch3'));
    const res = await upload(xml);
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ entries: 4, matched: 4, breaks: 0 });
    expect(res.body.items.map((i) => [i.endToEndId, i.amount, i.status])).toEqual([
      ['TC20261126COLLECT01', '1000.00', 'MATCHED'],
      [e2e('batch1'), '100.00', 'MATCHED'],
      [e2e('batch2'), '200.10', 'MATCHED'],
      [e2e('batch3'), '299.90', 'MATCHED'],
    ]);
    expect(res.body.balances).toEqual({ opening: '-50.00', closing: '350.00', computedClosing: '350.00', consistent: true });
    const statuses = await t.prisma.paymentInstruction.findMany({
      where: { endToEndId: { in: ['batch1', 'batch2', 'batch3'].map(e2e) } },
      select: { status: true },
    });
    expect(statuses.map((s) => s.status)).toEqual(['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);
  });

  it('camt.053 without AcctSvcrRef: imported twice is imported once (the same file, or the same statement sent again)', async () => {
    const m = payees.get('xsi')!.member;
    expect((await deposit(m, '88.80', 'DEP-M-0001')).status).toBe(201);
    const xml = fixture('camt053-no-acctsvcrref.xml');
    const first = await upload(xml);
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ entries: 2, matched: 1, breaks: 1, replayed: false, balances: null });
    expect(first.body.items.map((i) => i.status)).toEqual(['MATCHED', 'UNMATCHED']);
    const refs = first.body.items.map((i) => i.bankRef);
    for (const r of refs) expect(r).toMatch(/^DRV[0-9A-F]{32}$/);

    const counts = async () => ({
      transfers: await t.prisma.transfer.count(),
      entries: await t.prisma.bankStatementEntry.count(),
      statements: await t.prisma.bankStatement.count(),
      cash: await cash(m),
    });
    const before = await counts();
    const again = await upload(xml);
    expect(again.body).toMatchObject({ replayed: true, entries: 2, matched: 1 });
    expect(await counts()).toEqual(before);

    // The same statement re-sent (other bytes): the derived references are the same, so nothing books twice.
    const resent = await upload(xml.replace('<Document', '<!-- re-sent -->\n<Document'));
    expect(resent.body.replayed).toBe(false);
    expect(resent.body.items.map((i) => [i.bankRef, i.status])).toEqual(refs.map((r) => [r, 'DUPLICATE']));
    expect((await counts()).transfers).toBe(before.transfers);
    expect((await counts()).cash).toBe(before.cash);
  });

  it('camt.053 whose closing balance is not opening + entries: a STATEMENT_BALANCE break with both amounts', async () => {
    expect((await deposit(payees.get('closing')!.member, '500.00', 'DEP-M-0002')).status).toBe(201);
    const res = await upload(fixture('camt053-wrong-closing.xml').replace('TC20261128PAY01', e2e('closing')));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ entries: 2, matched: 2, breaks: 0 });
    expect(res.body.balances).toEqual({ opening: '1000.00', closing: '1400.00', computedClosing: '1300.00', consistent: false });
    const found = await breaks('STATEMENT_BALANCE');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      unit: 'CNY',
      expected: '1300.00',
      actual: '1400.00',
      difference: '100.00',
      references: { statementId: 'STMT-20261128-BAD' },
    });
    // Every other statement above adds up: no break for them.
    expect(await t.prisma.bankStatement.count({ where: { closingFen: { not: null } } })).toBe(4);
  });

  it('pain.002 with one rejection and one acceptance: the rejected cash comes back exactly, a break carries the reason, the acceptance confirms', async () => {
    const rejected = payees.get('rejected')!.member;
    const settled = payees.get('settled')!.member;
    const [rBefore, sBefore] = [await cash(rejected), await cash(settled)];
    expect([rBefore, sBefore]).toEqual(['900.00', '950.00']);
    const xml = fixture('pain002-rjct-acsc.xml')
      .replace('TC20261125A1B2C3D4E5F6A7B8C9D0E1F2', e2e('rejected'))
      .replace('TC20261125B0B0B0B0B0B0B0B0B0B0B0B0', e2e('settled'));
    const res = await statusReport(xml);
    expect(res.status, res.text).toBe(201);
    expect(res.body.items.map((i) => [i.endToEndId, i.status, i.reasonCode, i.outcome, i.amount])).toEqual([
      [e2e('rejected'), 'RJCT', 'AC04', 'RETURNED', '100.00'],
      [e2e('settled'), 'ACSC', null, 'CONFIRMED', '50.00'],
    ]);
    expect([await cash(rejected), await cash(settled)]).toEqual(['1000.00', '950.00']);
    const back = await t.prisma.transfer.findMany({ where: { kind: 'WITHDRAWAL_RETURN' } });
    expect(back.map((x) => [x.amountFen, x.reference])).toEqual([[10_000n, e2e('rejected')]]);
    const withdrawal = await t.prisma.withdrawal.findFirstOrThrow({ where: { memberId: rejected.id } });
    expect(withdrawal.status).toBe('REJECTED');
    expect(withdrawal.reason).toContain('AC04');
    expect((await t.prisma.withdrawal.findFirstOrThrow({ where: { memberId: settled.id } })).status).toBe('APPROVED');
    const instructions = new Map(
      (await t.prisma.paymentInstruction.findMany({ where: { memberId: { in: [rejected.id, settled.id] } } })).map((i) => [
        i.memberId,
        i.status,
      ]),
    );
    expect([instructions.get(rejected.id), instructions.get(settled.id)]).toEqual(['REJECTED', 'ACCEPTED']);

    const rejections = await breaks('PAYMENT_REJECTED');
    expect(rejections).toEqual([
      expect.objectContaining({
        memberId: rejected.id,
        unit: 'CNY',
        actual: 'RJCT AC04',
        difference: '100.00',
        references: expect.objectContaining({
          endToEndId: e2e('rejected'),
          reasonCode: 'AC04',
          reasonInfo: 'Account closed on 2026-11-20',
        }),
      }),
    ]);
    expect(await breaks('PAYMENT_STATUS')).toEqual([]);

    // The same report again changes nothing; another report rejecting it again returns nothing twice.
    const transfers = await t.prisma.transfer.count();
    expect((await statusReport(xml)).body.replayed).toBe(true);
    const again = await statusReport(xml.replace('ICBC-PSR-20261125-01', 'ICBC-PSR-20261125-02'));
    expect(again.body.items.map((i) => i.outcome)).toEqual(['DUPLICATE', 'CONFIRMED']);
    expect(await t.prisma.transfer.count()).toBe(transfers);
    expect(await cash(rejected)).toBe('1000.00');
    // The rejected payment is no longer in the payment file.
    const file = await t.clearing.request('GET', `/v1/payment-instructions?businessDate=${day}&format=pain001`);
    validatePain001(file.text);
    expect(file.text).not.toContain(e2e('rejected'));
    expect(file.text).toContain(e2e('settled'));

    // The statement then books the accepted payment (matched, now CONFIRMED); a booking of the rejected one is a break.
    const booked = await upload(
      fixture('camt053-xsi-first.xml')
        .replace('STMT-20261125-XSI', 'STMT-20261125-AFTER-PSR')
        .replace('BK20261125001', 'BK20261125101')
        .replace('BK20261125002', 'BK20261125102')
        .replace('TC20261125A1B2C3D4E5F6A7B8C9D0E1F2', e2e('rejected'))
        .replace(
          '<Amt Ccy="CNY">130.00</Amt>\n        <CdtDbtInd>CRDT</CdtDbtInd>',
          '<Amt Ccy="CNY">50.00</Amt>\n        <CdtDbtInd>DBIT</CdtDbtInd>',
        )
        .replace('NOTPROVIDED', e2e('settled'))
        .replace('<Amt Ccy="CNY">10030.00</Amt>', '<Amt Ccy="CNY">9850.00</Amt>'),
    );
    expect(booked.status, booked.text).toBe(201);
    expect(booked.body.balances).toMatchObject({ closing: '9850.00', consistent: true });
    expect(booked.body.items.map((i) => [i.endToEndId, i.status])).toEqual([
      [e2e('rejected'), 'MISMATCH'],
      [e2e('settled'), 'MATCHED'],
    ]);
    const after = await t.prisma.paymentInstruction.findMany({ where: { memberId: { in: [rejected.id, settled.id] } } });
    expect(new Map(after.map((i) => [i.memberId, i.status]))).toEqual(
      new Map([
        [rejected.id, 'REJECTED'],
        [settled.id, 'CONFIRMED'],
      ]),
    );
    expect(await cash(rejected)).toBe('1000.00');
    await expectLedgerConsistent(t.prisma);
  });

  it('pain.002 naming an end-to-end id we never sent: a PAYMENT_STATUS break, not an error', async () => {
    const xml = fixture('pain002-rjct-acsc.xml')
      .replace('ICBC-PSR-20261125-01', 'ICBC-PSR-20261125-03')
      .replace('TC20261125A1B2C3D4E5F6A7B8C9D0E1F2', 'TCNOSUCHPAYMENT0001')
      .replace('TC20261125B0B0B0B0B0B0B0B0B0B0B0B0', 'TCNOSUCHPAYMENT0002');
    const res = await statusReport(xml);
    expect(res.status, res.text).toBe(201);
    expect(res.body.items.map((i) => i.outcome)).toEqual(['UNKNOWN', 'UNKNOWN']);
    const found = await breaks('PAYMENT_STATUS');
    expect(found.map((b) => b.references.endToEndId ?? '').toSorted((x, y) => x.localeCompare(y))).toEqual([
      'TCNOSUCHPAYMENT0001',
      'TCNOSUCHPAYMENT0002',
    ]);
    expect(found.find((b) => b.references.endToEndId === 'TCNOSUCHPAYMENT0001')).toMatchObject({
      actual: 'RJCT TCNOSUCHPAYMENT0001',
      references: { reasonCode: 'AC04' },
    });
    expectProblem(
      await statusReport('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><Nope/></Document>'),
      400,
      'BANK_STATEMENT_INVALID',
    );
    expectProblem(await t.clearing.post('/v1/payment-status-reports', { not: 'xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectProblem(
      await payees.get('xsi')!.member.client.request('POST', '/v1/payment-status-reports', xml, { 'content-type': 'application/xml' }),
      403,
      'FORBIDDEN_ROLE',
    );
  });
});
