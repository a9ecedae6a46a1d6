import { formatFen } from '../../platform/money/money.js';
import { isValidIsoDate } from '../../platform/time/business-date.js';
import { charLength } from './iso20022-xml.js';

export interface CreditTransfer {
  /** Stable per instruction (the same on every export), Max35Text. */
  endToEndId: string;
  amountFen: bigint;
  /** The holder name of the member's verified bank account, Max140Text. */
  creditorName: string;
  /** The member's verified bank account number, Max34Text. */
  creditorAccount: string;
  /**
   * CNAPS code (12 digits) of the member's bank. Required: optional in the type only so the
   * current caller still compiles until it passes the member's bank; rendering without it throws.
   */
  creditorAgentCnaps?: string;
}

export interface Pain001Input {
  /** Fresh for every export (a bank refuses a MsgId it has seen), Max35Text. */
  messageId: string;
  /** Defaults to messageId: the file has one payment information block, so that id is unique too. */
  paymentInformationId?: string;
  createdAt: Date;
  /** ReqdExctnDt, YYYY-MM-DD. */
  executionDate: string;
  /** The CCP: initiating party and debtor. */
  debtorName: string;
  /** The CCP's settlement account number at its bank, Max34Text. */
  debtorAccount: string;
  /** CNAPS code (12 digits) of the CCP's bank. Required — optional in the type for the same reason as creditorAgentCnaps. */
  debtorAgentCnaps?: string;
  /** RmtInf/Ustrd, Max140Text; defaults to "TokenClear net settlement <executionDate>". */
  remittanceInformation?: string;
  transfers: CreditTransfer[];
}

export const PAIN001_NAMESPACE = 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.09';

// ClearingSystemIdentification2Choice/Cd is an ExternalClearingSystemIdentification1Code (Max5Text)
// from ISO's external code list, where the China National Advanced Payment System is "CNAPS".
const CNAPS = 'CNAPS';
// ActiveOrHistoricCurrencyAndAmount and DecimalNumber both have totalDigits 18: with our two
// decimals, an amount or sum must stay below 10^18 fen.
const MAX_TOTAL_DIGITS_FEN = 10n ** 18n;
// XML 1.0 forbids most C0 controls; tabs and line breaks mean nothing in names and ids either.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\ufffe\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function invalid(field: string, message: string): never {
  throw new RangeError(`pain.001 cannot be rendered: ${field} ${message}`);
}

/** MaxNText: 1..N characters (code points, as XML Schema counts them), no control characters, no lone surrogates. */
function maxText(value: string | undefined, max: number, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') invalid(field, 'is missing');
  if (CONTROL.test(value) || LONE_SURROGATE.test(value)) invalid(field, 'contains a control character or a broken character');
  const length = charLength(value);
  if (length > max) invalid(field, `is ${length} characters, at most ${max} allowed (${JSON.stringify(value)})`);
  return value;
}

function accountNumber(value: string | undefined, field: string): string {
  const v = maxText(value, 34, field);
  if (/\s/.test(v)) invalid(field, `must be an account number without spaces (${JSON.stringify(v)})`);
  return v;
}

function cnaps(value: string | undefined, field: string): string {
  if (value === undefined) invalid(field, 'is missing: the bank is identified by its CNAPS code');
  if (!/^\d{12}$/.test(value)) invalid(field, `must be a CNAPS code of 12 digits, got ${JSON.stringify(value)}`);
  return value;
}

function amount(fen: bigint, field: string): string {
  if (fen <= 0n) invalid(field, `must be greater than zero, got ${formatFen(fen)}`);
  if (fen >= MAX_TOTAL_DIGITS_FEN) invalid(field, `${formatFen(fen)} has more than 18 digits`);
  return formatFen(fen);
}

const agent = (code: string) =>
  `<FinInstnId><ClrSysMmbId><ClrSysId><Cd>${CNAPS}</Cd></ClrSysId><MmbId>${code}</MmbId></ClrSysMmbId></FinInstnId>`;

/**
 * ISO 20022 pain.001.001.09 (customer credit transfer initiation): one payment information block
 * paying members from the CCP's settlement account, banks identified by CNAPS code. Every input is
 * checked against the schema's types first — a file the bank would refuse is never produced.
 */
export function renderPain001(opts: Pain001Input): string {
  const messageId = maxText(opts.messageId, 35, 'messageId');
  const paymentInformationId = maxText(opts.paymentInformationId ?? opts.messageId, 35, 'paymentInformationId');
  if (!(opts.createdAt instanceof Date) || Number.isNaN(opts.createdAt.getTime())) invalid('createdAt', 'is not a valid date');
  if (!isValidIsoDate(opts.executionDate)) invalid('executionDate', `must be YYYY-MM-DD, got ${JSON.stringify(opts.executionDate)}`);
  const debtorName = maxText(opts.debtorName, 140, 'debtorName');
  const debtorAccount = accountNumber(opts.debtorAccount, 'debtorAccount');
  const debtorAgent = cnaps(opts.debtorAgentCnaps, 'debtorAgentCnaps');
  const remittance = maxText(opts.remittanceInformation ?? `TokenClear net settlement ${opts.executionDate}`, 140, 'remittanceInformation');
  if (opts.transfers.length === 0) invalid('transfers', 'is empty: a payment information block needs at least one transfer');

  const seen = new Set<string>();
  const txs = opts.transfers.map((t, i) => {
    const at = `transfers[${i}]`;
    const e2e = maxText(t.endToEndId, 35, `${at}.endToEndId`);
    if (seen.has(e2e)) invalid(`${at}.endToEndId`, `${JSON.stringify(e2e)} is used twice in the file`);
    seen.add(e2e);
    return `      <CdtTrfTxInf>
        <PmtId><EndToEndId>${escape(e2e)}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="CNY">${amount(t.amountFen, `${at}.amountFen`)}</InstdAmt></Amt>
        <CdtrAgt>${agent(cnaps(t.creditorAgentCnaps, `${at}.creditorAgentCnaps`))}</CdtrAgt>
        <Cdtr><Nm>${escape(maxText(t.creditorName, 140, `${at}.creditorName`))}</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>${escape(accountNumber(t.creditorAccount, `${at}.creditorAccount`))}</Id></Othr></Id></CdtrAcct>
        <RmtInf><Ustrd>${escape(remittance)}</Ustrd></RmtInf>
      </CdtTrfTxInf>`;
  });
  const n = String(opts.transfers.length);
  const total = amount(
    opts.transfers.reduce((s, t) => s + t.amountFen, 0n),
    'the control sum',
  );
  // ChrgBr is left out: optional in the standard, and who bears charges is set by the CCP's
  // agreement with its bank (SLEV names a service level, which domestic CNAPS transfers lack).
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="${PAIN001_NAMESPACE}">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${escape(messageId)}</MsgId>
      <CreDtTm>${opts.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}</CreDtTm>
      <NbOfTxs>${n}</NbOfTxs>
      <CtrlSum>${total}</CtrlSum>
      <InitgPty><Nm>${escape(debtorName)}</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${escape(paymentInformationId)}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <NbOfTxs>${n}</NbOfTxs>
      <CtrlSum>${total}</CtrlSum>
      <ReqdExctnDt><Dt>${opts.executionDate}</Dt></ReqdExctnDt>
      <Dbtr><Nm>${escape(debtorName)}</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>${escape(debtorAccount)}</Id></Othr></Id><Ccy>CNY</Ccy></DbtrAcct>
      <DbtrAgt>${agent(debtorAgent)}</DbtrAgt>
${txs.join('\n')}
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`;
}
