import { formatFen } from '../../platform/money/money.js';

export interface CreditTransfer {
  endToEndId: string;
  amountFen: bigint;
  creditorName: string;
  creditorAccount: string;
}

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * ISO 20022 pain.001.001.09 (customer credit transfer initiation) from the CCP's settlement
 * account to members, one payment information block for the business date. Amounts in CNY with
 * two decimals; the control sums are the exact fen sums.
 */
export function renderPain001(opts: {
  messageId: string;
  createdAt: Date;
  executionDate: string;
  debtorName: string;
  debtorAccount: string;
  transfers: CreditTransfer[];
}): string {
  const total = formatFen(opts.transfers.reduce((s, t) => s + t.amountFen, 0n));
  const n = opts.transfers.length;
  const txs = opts.transfers
    .map(
      (t) => `      <CdtTrfTxInf>
        <PmtId><EndToEndId>${escape(t.endToEndId)}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="CNY">${formatFen(t.amountFen)}</InstdAmt></Amt>
        <Cdtr><Nm>${escape(t.creditorName.slice(0, 140))}</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>${escape(t.creditorAccount)}</Id></Othr></Id></CdtrAcct>
        <RmtInf><Ustrd>TokenClear net settlement ${opts.executionDate}</Ustrd></RmtInf>
      </CdtTrfTxInf>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${escape(opts.messageId)}</MsgId>
      <CreDtTm>${opts.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}</CreDtTm>
      <NbOfTxs>${n}</NbOfTxs>
      <CtrlSum>${total}</CtrlSum>
      <InitgPty><Nm>${escape(opts.debtorName)}</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${escape(opts.messageId)}-1</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <NbOfTxs>${n}</NbOfTxs>
      <CtrlSum>${total}</CtrlSum>
      <ReqdExctnDt><Dt>${opts.executionDate}</Dt></ReqdExctnDt>
      <Dbtr><Nm>${escape(opts.debtorName)}</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>${escape(opts.debtorAccount)}</Id></Othr></Id><Ccy>CNY</Ccy></DbtrAcct>
      <DbtrAgt><FinInstnId><Othr><Id>SETTLEMENT-BANK</Id></Othr></FinInstnId></DbtrAgt>
${txs}
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`;
}
