import { XMLParser } from 'fast-xml-parser';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFen, parseAmount } from '../../src/platform/money/money.js';
import { Clock } from '../../src/platform/time/clock.js';
import { dateColumn } from '../../src/platform/time/business-date.js';
import { createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// A stable order for comparing lists of rows whatever order they came in.
const byJson = (x: unknown, y: unknown) => JSON.stringify(x).localeCompare(JSON.stringify(y));

interface Instruction {
  memberId: string;
  direction: string;
  amount: string;
  endToEndId: string;
  status: string;
}

function camt053(entries: { ref: string; e2e?: string; dir: 'CRDT' | 'DBIT'; amount: string; ccy?: string; date: string }[]): string {
  const ntry = entries
    .map(
      (e) => `      <Ntry>
        <Amt Ccy="${e.ccy ?? 'CNY'}">${e.amount}</Amt>
        <CdtDbtInd>${e.dir}</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>${e.date}</Dt></BookgDt>
        <ValDt><Dt>${e.date}</Dt></ValDt>
        <AcctSvcrRef>${e.ref}</AcctSvcrRef>
        <BkTxCd><Prtry><Cd>TRF</Cd></Prtry></BkTxCd>
        <NtryDtls><TxDtls><Refs><EndToEndId>${e.e2e ?? 'NOTPROVIDED'}</EndToEndId></Refs></TxDtls></NtryDtls>
      </Ntry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>BANK-${entries[0]?.ref ?? 'X'}</MsgId><CreDtTm>2026-11-25T18:00:00+08:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-${entries[0]?.ref ?? 'X'}</Id>
      <Acct><Id><Othr><Id>bank:settlement</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
${ntry}
    </Stmt>
  </BkToCstmrStmt>
</Document>
`;
}

describe('payment instructions (pain.001) and bank statements (camt.053)', () => {
  let t: TestApp;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  let day: string;
  let byMember: Map<string, Instruction>;
  const accounts = new Map<string, { accountNumber: string }>();
  const upload = (body: string, type = 'application/xml') =>
    t.clearing.request<{
      entries: number;
      matched: number;
      breaks: number;
      replayed: boolean;
      items: { bankRef: string; status: string }[];
    }>('POST', '/v1/bank-statements', body, { 'content-type': type });
  const cash = async (m: TestMember) => (await t.clearing.get<{ cash: string }>(`/v1/members/${m.id}/balances`)).body.cash;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    // Five days ago, so an instruction the bank never confirms is overdue by now.
    t.app.get(Clock).set(new Date(Date.now() - 5 * 86_400_000));
    day = t.app.get(Clock).businessDate();
    [a, b, c] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [a, b]) accounts.set(m.id, await verifiedBankAccount(t, m));
    await t.clearing.post(`/v1/members/${a.id}/deposits`, { amount: '1000.00', currency: 'CNY', reference: 'DEP-A-1' });
    await fund(t, b, '500.00');
    for (const [m, amount] of [
      [a, '100.00'],
      [b, '50.00'],
    ] as const) {
      const w = await m.client.post<{ id: string }>(`/v1/members/${m.id}/withdrawals`, { amount, currency: 'CNY' });
      expect(w.status, w.text).toBe(201);
      const ok = await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {});
      expect(ok.status, ok.text).toBe(200);
    }
    // A margin call issued that day, as a settlement run opens them: C owes 30.00.
    await t.prisma.marginCall.create({ data: { memberId: c.id, businessDate: dateColumn(day), amountFen: 3_000n, dueAt: new Date() } });
  });
  afterAll(() => t.close());

  it('nets each member for the business date: PAY withdrawals, COLLECT margin calls due', async () => {
    const res = await t.clearing.get<{ items: Instruction[] }>(`/v1/payment-instructions?businessDate=${day}`);
    expect(res.status, res.text).toBe(200);
    byMember = new Map(res.body.items.map((i) => [i.memberId, i]));
    expect(byMember.get(a.id)).toMatchObject({ direction: 'PAY', amount: '100.00', status: 'INSTRUCTED' });
    expect(byMember.get(b.id)).toMatchObject({ direction: 'PAY', amount: '50.00' });
    expect(byMember.get(c.id)).toMatchObject({ direction: 'COLLECT', amount: '30.00' });
    expect(res.body.items).toHaveLength(3);
    for (const i of res.body.items) expect(i.endToEndId).toMatch(/^[A-Z0-9]{1,35}$/);
    const csv = await t.clearing.request('GET', `/v1/payment-instructions?businessDate=${day}&format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('businessDate,memberId,memberName,direction,amount,currency,endToEndId,status');
    expect(
      lines
        .slice(1)
        .map((l) => l.split(',')[3])
        .sort(),
    ).toEqual(['COLLECT', 'PAY', 'PAY']);
    expectProblem(await a.client.get(`/v1/payment-instructions?businessDate=${day}`), 403, 'FORBIDDEN_ROLE');
    expectProblem(await t.clearing.get('/v1/payment-instructions?businessDate=2020-01-01&format=pain001'), 409, 'NO_PAYMENTS');
    expectProblem(await t.clearing.get('/v1/payment-instructions?businessDate=2026-13-01&format=pain001'), 400, 'VALIDATION_FAILED');
    expectProblem(await t.clearing.get('/v1/payment-instructions?businessDate=yesterday'), 400, 'VALIDATION_FAILED');
  });

  it('exports pain.001.001.09 that parses back with consistent counts, sums, ids, currency and dates', async () => {
    const res = await t.clearing.request('GET', `/v1/payment-instructions?businessDate=${day}&format=pain001`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/xml/);
    // What the bank checks first: the file is valid against the message's schema.
    const file = join(mkdtempSync(join(tmpdir(), 'tc-bank-')), 'pain001.xml');
    writeFileSync(file, res.text);
    execFileSync('xmllint', ['--noout', '--schema', join(import.meta.dirname, '../fixtures/iso20022/pain.001.001.09.xsd'), file], {
      stdio: 'pipe',
    });
    const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false }).parse(res.text) as Record<string, unknown[]>[];
    const names = (nodes: unknown[]) => (nodes as Record<string, unknown>[]).map((n) => Object.keys(n).find((k) => k !== ':@'));
    const child = (nodes: unknown[], name: string) =>
      ((nodes as Record<string, unknown[]>[]).find((n) => name in n) as Record<string, unknown[]>)[name];
    const initn = child(child(ordered, 'Document'), 'CstmrCdtTrfInitn');
    expect(names(initn)).toEqual(['GrpHdr', 'PmtInf']);
    expect(names(child(initn, 'GrpHdr'))).toEqual(['MsgId', 'CreDtTm', 'NbOfTxs', 'CtrlSum', 'InitgPty']);
    expect(names(child(initn, 'PmtInf'))).toEqual([
      'PmtInfId',
      'PmtMtd',
      'NbOfTxs',
      'CtrlSum',
      'ReqdExctnDt',
      'Dbtr',
      'DbtrAcct',
      'DbtrAgt',
      'CdtTrfTxInf',
      'CdtTrfTxInf',
    ]);

    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false }).parse(res.text) as {
      Document: { '@xmlns': string; CstmrCdtTrfInitn: { GrpHdr: Record<string, string>; PmtInf: Record<string, unknown> } };
    };
    expect(doc.Document['@xmlns']).toBe('urn:iso:std:iso:20022:tech:xsd:pain.001.001.09');
    const { GrpHdr, PmtInf } = doc.Document.CstmrCdtTrfInitn;
    expect(GrpHdr).toMatchObject({ NbOfTxs: '2', CtrlSum: '150.00' });
    expect(GrpHdr.CreDtTm).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(PmtInf).toMatchObject({ PmtMtd: 'TRF', NbOfTxs: '2', CtrlSum: '150.00', ReqdExctnDt: { Dt: day } });
    const txs = PmtInf.CdtTrfTxInf as {
      PmtId: { EndToEndId: string };
      Amt: { InstdAmt: { '#text': string; '@Ccy': string } };
      CdtrAcct: { Id: { Othr: { Id: string } } };
    }[];
    expect(
      txs.map((x) => [x.CdtrAcct.Id.Othr.Id, x.PmtId.EndToEndId, x.Amt.InstdAmt['#text'], x.Amt.InstdAmt['@Ccy']]).toSorted(byJson),
    ).toEqual(
      [a, b]
        .map((m) => [accounts.get(m.id)!.accountNumber, byMember.get(m.id)!.endToEndId, byMember.get(m.id)!.amount, 'CNY'])
        .toSorted(byJson),
    );
    for (const x of txs) expect(x.Amt.InstdAmt['#text']).toMatch(/^\d+\.\d{2}$/);
  });

  it('matches a camt.053 statement: confirmations, a posted collection, and breaks for the rest; the same file twice changes nothing', async () => {
    const e2e = (m: TestMember) => byMember.get(m.id)!.endToEndId;
    const file = camt053([
      { ref: 'BK0001', e2e: e2e(a), dir: 'DBIT', amount: '100.00', date: day }, // matches A's payment
      { ref: 'BK0002', e2e: e2e(b), dir: 'DBIT', amount: '55.00', date: day }, // wrong amount for B
      { ref: 'BK0003', e2e: e2e(c), dir: 'CRDT', amount: '30.00', date: day }, // C pays its margin call
      { ref: 'BK0004', e2e: 'SOMETHING-ELSE', dir: 'CRDT', amount: '20.00', date: day }, // unknown reference
      { ref: 'BK0001', e2e: e2e(a), dir: 'DBIT', amount: '100.00', date: day }, // booked twice
      { ref: 'BK0005', e2e: 'DEP-A-1', dir: 'CRDT', amount: '1000.00', date: day }, // confirms A's recorded deposit
    ]);
    const cBefore = await cash(c);
    const res = await upload(file);
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ entries: 6, matched: 3, breaks: 3, replayed: false });
    expect(res.body.items.map((i) => `${i.bankRef}:${i.status}`)).toEqual([
      'BK0001:MATCHED',
      'BK0002:MISMATCH',
      'BK0003:POSTED',
      'BK0004:UNMATCHED',
      'BK0001:DUPLICATE',
      'BK0005:MATCHED',
    ]);
    expect(await cash(c)).toBe(formatFen(parseAmount(cBefore, 'cash', { allowZero: true }) + 3_000n));
    const after = new Map(
      (await t.clearing.get<{ items: Instruction[] }>(`/v1/payment-instructions?businessDate=${day}`)).body.items.map((i) => [
        i.memberId,
        i.status,
      ]),
    );
    expect([after.get(a.id), after.get(b.id), after.get(c.id)]).toEqual(['CONFIRMED', 'INSTRUCTED', 'CONFIRMED']);

    // Breaks: the mismatch, the unknown entry, the duplicate, and B's payment the bank never confirmed.
    const breaks = (
      await t.clearing.get<{ items: { key: string; difference: string; references: { bankRef?: string } }[] }>(
        '/v1/reconciliation/breaks?status=OPEN&type=BANK_STATEMENT',
      )
    ).body.items;
    expect(breaks).toHaveLength(4);
    expect(breaks.map((x) => x.difference.split(':')[0]).sort()).toEqual(['50.00', 'DUPLICATE', 'MISMATCH', 'UNMATCHED']);

    const transfers = await t.prisma.transfer.count();
    const again = await upload(file);
    expect(again.body).toMatchObject({ replayed: true, entries: 6 });
    expect(await t.prisma.transfer.count()).toBe(transfers);
    expect(await t.prisma.bankStatementEntry.count()).toBe(6);
    expect(await cash(c)).toBe(formatFen(parseAmount(cBefore, 'cash', { allowZero: true }) + 3_000n));
    await expectLedgerConsistent(t.prisma);
  });

  it('accepts the documented CSV, and a second booking of a confirmed collection is a duplicate', async () => {
    const csv = `bookingDate,direction,amount,currency,endToEndId,bankRef\n${day},CRDT,30.00,CNY,${byMember.get(c.id)!.endToEndId},BK0100\n`;
    const res = await upload(csv, 'text/csv');
    expect(res.status, res.text).toBe(201);
    expect(res.body.items).toEqual([expect.objectContaining({ bankRef: 'BK0100', status: 'DUPLICATE' })]);
  });

  it('refuses malformed files whole, naming the line or element', async () => {
    const entries = await t.prisma.bankStatementEntry.count();
    const broken = await upload(
      '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n  <BkToCstmrStmt>\n</Document>',
    );
    expectProblem(broken, 400, 'BANK_STATEMENT_INVALID');
    expect(broken.text).toMatch(/line \d+/);
    const usd = await upload(
      camt053([
        { ref: 'BK0200', e2e: 'X', dir: 'CRDT', amount: '1.00', date: day },
        { ref: 'BK0201', e2e: 'Y', dir: 'CRDT', amount: '2.00', ccy: 'USD', date: day },
      ]),
    );
    expectProblem(usd, 400, 'BANK_STATEMENT_INVALID');
    expect(usd.text).toContain('Stmt/Ntry[2]/Amt@Ccy');
    expectProblem(await upload(camt053([{ ref: 'BK0202', dir: 'CRDT', amount: '1.005', date: day }])), 400, 'BANK_STATEMENT_INVALID');
    expectProblem(await upload('bookingDate,direction\n', 'text/csv'), 400, 'BANK_STATEMENT_INVALID');
    expectProblem(await t.clearing.post('/v1/bank-statements', { not: 'a file' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await t.prisma.bankStatementEntry.count()).toBe(entries);
  });
});
