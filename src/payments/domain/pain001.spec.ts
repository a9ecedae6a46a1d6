import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPain001, type CreditTransfer, type Pain001Input } from './pain001.js';

const XSD = fileURLToPath(new URL('../../../test/fixtures/iso20022/pain.001.001.09.xsd', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pain001-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** xmllint against the subset schema: exit status and what it said. */
function validate(xml: string): { status: number | null; output: string } {
  const file = join(dir, `f${++files}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const transfer = (over: Partial<CreditTransfer> = {}): CreditTransfer => ({
  endToEndId: 'TC20261125A1B2C3D4E5F6A7B8C9D0E1F2',
  amountFen: 10_000n,
  creditorName: '上海算力科技有限公司',
  creditorAccount: '6222021001112223334',
  creditorAgentCnaps: '102290012345',
  ...over,
});

const input = (over: Partial<Pain001Input> = {}): Pain001Input => ({
  messageId: 'TC-PAY-20261125-01HX9ZK3Q7',
  createdAt: new Date('2026-11-25T10:15:30.123Z'),
  executionDate: '2026-11-25',
  debtorName: 'TokenClear CCP',
  debtorAccount: '31001550400050012345',
  debtorAgentCnaps: '105290000001',
  transfers: [
    transfer(),
    transfer({
      endToEndId: 'TC20261125B0B0B0B0B0B0B0B0B0B0B0B0',
      amountFen: 5_005n,
      creditorName: 'Smith & Sons <Compute> "Ltd" \'HK\'',
      creditorAccount: '4000123456789',
      creditorAgentCnaps: '313100000013',
    }),
  ],
  ...over,
});

const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false }).parse(xml) as {
    Document: { '@xmlns': string; CstmrCdtTrfInitn: { GrpHdr: Record<string, unknown>; PmtInf: Record<string, unknown> } };
  };

describe('renderPain001', () => {
  it('renders a file the pain.001.001.09 schema accepts, with exact counts, sums, ids, accounts and agents', () => {
    const xml = renderPain001(input());
    expect(validate(xml)).toEqual({ status: 0, output: expect.stringContaining('validates') as string });
    const doc = parse(xml).Document;
    expect(doc['@xmlns']).toBe('urn:iso:std:iso:20022:tech:xsd:pain.001.001.09');
    const cnaps = (code: string) => ({ FinInstnId: { ClrSysMmbId: { ClrSysId: { Cd: 'CNAPS' }, MmbId: code } } });
    expect(doc.CstmrCdtTrfInitn).toEqual({
      GrpHdr: {
        MsgId: 'TC-PAY-20261125-01HX9ZK3Q7',
        CreDtTm: '2026-11-25T10:15:30Z',
        NbOfTxs: '2',
        CtrlSum: '150.05',
        InitgPty: { Nm: 'TokenClear CCP' },
      },
      PmtInf: {
        PmtInfId: 'TC-PAY-20261125-01HX9ZK3Q7',
        PmtMtd: 'TRF',
        NbOfTxs: '2',
        CtrlSum: '150.05',
        ReqdExctnDt: { Dt: '2026-11-25' },
        Dbtr: { Nm: 'TokenClear CCP' },
        DbtrAcct: { Id: { Othr: { Id: '31001550400050012345' } }, Ccy: 'CNY' },
        DbtrAgt: cnaps('105290000001'),
        CdtTrfTxInf: [
          {
            PmtId: { EndToEndId: 'TC20261125A1B2C3D4E5F6A7B8C9D0E1F2' },
            Amt: { InstdAmt: { '#text': '100.00', '@Ccy': 'CNY' } },
            CdtrAgt: cnaps('102290012345'),
            Cdtr: { Nm: '上海算力科技有限公司' },
            CdtrAcct: { Id: { Othr: { Id: '6222021001112223334' } } },
            RmtInf: { Ustrd: 'TokenClear net settlement 2026-11-25' },
          },
          {
            PmtId: { EndToEndId: 'TC20261125B0B0B0B0B0B0B0B0B0B0B0B0' },
            Amt: { InstdAmt: { '#text': '50.05', '@Ccy': 'CNY' } },
            CdtrAgt: cnaps('313100000013'),
            // Escaped in the file, the same text once parsed.
            Cdtr: { Nm: 'Smith & Sons <Compute> "Ltd" \'HK\'' },
            CdtrAcct: { Id: { Othr: { Id: '4000123456789' } } },
            RmtInf: { Ustrd: 'TokenClear net settlement 2026-11-25' },
          },
        ],
      },
    });
    expect(xml).toContain('Smith &amp; Sons &lt;Compute&gt; &quot;Ltd&quot; &apos;HK&apos;');
  });

  it('renders the longest inputs the schema allows, counting characters, not bytes', () => {
    const xml = renderPain001(
      input({
        messageId: 'M'.repeat(35),
        paymentInformationId: 'P'.repeat(35),
        debtorName: '清'.repeat(140),
        debtorAccount: '9'.repeat(34),
        remittanceInformation: '结😀'.repeat(70), // a surrogate pair is one character
        transfers: [
          transfer({
            endToEndId: 'E'.repeat(35),
            creditorName: '算'.repeat(140),
            creditorAccount: '8'.repeat(34),
            amountFen: 10n ** 18n - 1n,
          }),
        ],
      }),
    );
    expect(validate(xml).status).toBe(0);
    expect(xml).toContain('<CtrlSum>9999999999999999.99</CtrlSum>');
  });

  it('the schema bites: a 36-character account, elements out of order, a long clearing code, a wrong namespace', () => {
    const xml = renderPain001(input());
    // Each break, and the schema's reason for refusing it.
    const broken: [string, string, RegExp][] = [
      [
        'account',
        xml.replace('<Id>6222021001112223334</Id>', `<Id>${'1'.repeat(36)}</Id>`),
        /Id.*length of '36'; this exceeds the allowed maximum length of '34'/,
      ],
      [
        'uuid account',
        xml.replace('<Id>6222021001112223334</Id>', '<Id>0b8e7a52-4f9c-4d61-9a3e-2c5d7f1e8a90</Id>'),
        /maximum length of '34'/,
      ],
      ['order', xml.replace(/(<CdtrAgt>.*?<\/CdtrAgt>)(\s*)(<Cdtr>.*?<\/Cdtr>)/, '$3$2$1'), /CdtrAgt': This element is not expected/],
      ['clearing code', xml.replace('<Cd>CNAPS</Cd>', '<Cd>CNAPSX</Cd>'), /Cd.*maximum length of '5'/],
      ['currency', xml.replace('Ccy="CNY">100.00', 'Ccy="cny">100.00'), /'cny' is not accepted by the pattern '\[A-Z\]\{3,3\}'/],
      ['negative amount', xml.replace('>100.00</InstdAmt>', '>-100.00</InstdAmt>'), /minInclusive/],
      ['amount digits', xml.replace('>100.00</InstdAmt>', '>1234567890123456789.00</InstdAmt>'), /totalDigits/],
      ['count', xml.replace('<NbOfTxs>2</NbOfTxs>', '<NbOfTxs>two</NbOfTxs>'), /'two' is not accepted by the pattern '\[0-9\]\{1,15\}'/],
      ['date', xml.replace('<Dt>2026-11-25</Dt>', '<Dt>2026-11-31</Dt>'), /ISODate/],
      [
        'missing debtor agent',
        xml.replace(/<DbtrAgt>.*?<\/DbtrAgt>/, ''),
        /CdtTrfTxInf': This element is not expected. Expected is .*DbtrAgt/,
      ],
      ['namespace', xml.replace('pain.001.001.09"', 'pain.001.001.03"'), /No matching global declaration/],
    ];
    for (const [what, file, reason] of broken) {
      expect(file, what).not.toBe(xml);
      const r = validate(file);
      expect(r.status, `${what}: ${r.output}`).not.toBe(0);
      expect(r.output, what).toMatch(reason);
    }
  });

  it('throws a clear error rather than render a file the bank would refuse', () => {
    const refused: [Partial<Pain001Input>, RegExp][] = [
      [
        { transfers: [transfer({ creditorAccount: '0b8e7a52-4f9c-4d61-9a3e-2c5d7f1e8a90' })] },
        /transfers\[0\]\.creditorAccount is 36 characters, at most 34/,
      ],
      [
        { transfers: [transfer({ creditorAccount: '6222 0210 0111' })] },
        /transfers\[0\]\.creditorAccount must be an account number without spaces/,
      ],
      [{ transfers: [transfer({ creditorAgentCnaps: undefined })] }, /transfers\[0\]\.creditorAgentCnaps is missing/],
      [
        { transfers: [transfer({ creditorAgentCnaps: '10229001234' })] },
        /transfers\[0\]\.creditorAgentCnaps must be a CNAPS code of 12 digits/,
      ],
      [{ debtorAgentCnaps: undefined }, /debtorAgentCnaps is missing/],
      [{ messageId: 'M'.repeat(36) }, /messageId is 36 characters, at most 35/],
      [{ messageId: 'TC-PAY-20261125' + '-'.repeat(15), paymentInformationId: 'P'.repeat(36) }, /paymentInformationId is 36 characters/],
      [{ transfers: [transfer({ endToEndId: 'E'.repeat(36) })] }, /transfers\[0\]\.endToEndId is 36 characters/],
      [{ transfers: [transfer(), transfer()] }, /transfers\[1\]\.endToEndId .* is used twice/],
      [{ transfers: [transfer({ creditorName: '算'.repeat(141) })] }, /transfers\[0\]\.creditorName is 141 characters, at most 140/],
      [{ transfers: [transfer({ creditorName: 'A\u0001B' })] }, /transfers\[0\]\.creditorName contains a control character/],
      [{ transfers: [transfer({ creditorName: '  ' })] }, /transfers\[0\]\.creditorName is missing/],
      [{ transfers: [transfer({ amountFen: 0n })] }, /transfers\[0\]\.amountFen must be greater than zero/],
      [{ transfers: [transfer({ amountFen: 10n ** 18n })] }, /transfers\[0\]\.amountFen .* more than 18 digits/],
      [
        { transfers: [transfer({ amountFen: 10n ** 18n - 1n }), transfer({ endToEndId: 'E2', amountFen: 1n })] },
        /the control sum .* more than 18 digits/,
      ],
      [{ transfers: [] }, /transfers is empty/],
      [{ executionDate: '2026-02-30' }, /executionDate must be YYYY-MM-DD/],
      [{ createdAt: new Date('nope') }, /createdAt is not a valid date/],
    ];
    for (const [over, message] of refused) expect(() => renderPain001(input(over)), String(message)).toThrow(message);
  });

  it('refuses the old call shape (member id as account, no banks) instead of emitting an invalid file', () => {
    const legacy = {
      messageId: 'TC-PAY-20261125',
      createdAt: new Date('2026-11-25T10:00:00Z'),
      executionDate: '2026-11-25',
      debtorName: 'TokenClear CCP',
      debtorAccount: 'bank:settlement',
      transfers: [{ endToEndId: 'TC1', amountFen: 100n, creditorName: 'A', creditorAccount: '0b8e7a52-4f9c-4d61-9a3e-2c5d7f1e8a90' }],
    };
    expect(() => renderPain001(legacy)).toThrow(/debtorAgentCnaps is missing/);
    const banks = { ...legacy, debtorAgentCnaps: '105290000001' };
    expect(() => renderPain001(banks)).toThrow(/transfers\[0\]\.creditorAgentCnaps is missing/);
    const agent = { ...banks, transfers: banks.transfers.map((t) => ({ ...t, creditorAgentCnaps: '102290012345' })) };
    expect(() => renderPain001(agent)).toThrow(/transfers\[0\]\.creditorAccount is 36 characters, at most 34/);
  });
});
