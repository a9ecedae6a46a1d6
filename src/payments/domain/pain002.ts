import { bad, list, maxText, optionalMaxText, path, readIsoDocument, text, type XmlNode } from './iso20022-xml.js';

export interface StatusReason {
  /** ExternalStatusReason1Code, e.g. AC04 (closed account); null when the bank gave a proprietary reason. */
  code: string | null;
  proprietary: string | null;
  additionalInfo: string[];
}

export interface TransactionStatus {
  originalEndToEndId: string;
  originalInstructionId: string | null;
  originalPaymentInformationId: string | null;
  /**
   * TxSts (ACSC, ACCP, RJCT, PDNG, ...). Without one, the status of its payment information block
   * or of the group applies to it (never PART, which only describes a block or group).
   */
  status: string | null;
  reasons: StatusReason[];
}

export interface PaymentStatusReport {
  messageId: string;
  originalMessageId: string;
  /** The message reported on, e.g. pain.001.001.09. */
  originalMessageNameId: string;
  groupStatus: string | null;
  groupReasons: StatusReason[];
  paymentInformation: { originalPaymentInformationId: string; status: string | null; reasons: StatusReason[] }[];
  transactions: TransactionStatus[];
}

const PAIN002 = /^urn:iso:std:iso:20022:tech:xsd:pain\.002\.001\.\d{2}$/;
// External code lists (ExternalPaymentTransactionStatus1Code, ExternalPaymentGroupStatus1Code,
// ExternalStatusReason1Code) are Max4Text in the schema; the codes themselves are four capitals.
const CODE = /^[A-Z0-9]{4}$/;

function code(v: unknown, where: string): string | null {
  const c = text(v);
  if (c === undefined || c === '') return null;
  if (!CODE.test(c)) throw bad(where, `${JSON.stringify(c)} is not a 4-character status code`);
  return c;
}

function reasons(node: XmlNode, where: string): StatusReason[] {
  return list(node.StsRsnInf).map((r, i) => {
    const at = `${where}/StsRsnInf[${i + 1}]`;
    return {
      code: code(path(r, 'Rsn', 'Cd'), `${at}/Rsn/Cd`),
      proprietary: optionalMaxText(text(path(r, 'Rsn', 'Prtry')), 35, `${at}/Rsn/Prtry`),
      additionalInfo: list(r.AddtlInf).map((a, k) => maxText(text(a), 105, `${at}/AddtlInf[${k + 1}]`)),
    };
  });
}

const inheritable = (s: string | null) => (s === 'PART' ? null : s);

/**
 * ISO 20022 pain.002 (customer payment status report, read as version 10): the bank's answer to a
 * pain.001 we sent — the group's status and each transaction's, with reasons, keyed by our
 * end-to-end ids.
 */
export function parsePain002(xml: string): PaymentStatusReport {
  const message = readIsoDocument(xml, PAIN002, 'CstmrPmtStsRpt', 'pain.002');
  const messageId = maxText(text(path(message, 'GrpHdr', 'MsgId')), 35, 'GrpHdr/MsgId');
  const groups = list(message.OrgnlGrpInfAndSts);
  if (groups.length !== 1) throw bad('CstmrPmtStsRpt/OrgnlGrpInfAndSts', `expected exactly one, found ${groups.length}`);
  const group = groups[0];
  const originalMessageId = maxText(text(group.OrgnlMsgId), 35, 'OrgnlGrpInfAndSts/OrgnlMsgId');
  const originalMessageNameId = maxText(text(group.OrgnlMsgNmId), 35, 'OrgnlGrpInfAndSts/OrgnlMsgNmId');
  const groupStatus = code(group.GrpSts, 'OrgnlGrpInfAndSts/GrpSts');
  const groupReasons = reasons(group, 'OrgnlGrpInfAndSts');

  const paymentInformation: PaymentStatusReport['paymentInformation'] = [];
  const transactions: TransactionStatus[] = [];
  list(message.OrgnlPmtInfAndSts).forEach((p, i) => {
    const where = `OrgnlPmtInfAndSts[${i + 1}]`;
    const originalPaymentInformationId = maxText(text(p.OrgnlPmtInfId), 35, `${where}/OrgnlPmtInfId`);
    const status = code(p.PmtInfSts, `${where}/PmtInfSts`);
    paymentInformation.push({ originalPaymentInformationId, status, reasons: reasons(p, where) });
    list(p.TxInfAndSts).forEach((t, k) => {
      const at = `${where}/TxInfAndSts[${k + 1}]`;
      transactions.push({
        // Optional in the standard, but our pain.001 always sets it and it is how we match.
        originalEndToEndId: maxText(text(t.OrgnlEndToEndId), 35, `${at}/OrgnlEndToEndId`),
        originalInstructionId: optionalMaxText(text(t.OrgnlInstrId), 35, `${at}/OrgnlInstrId`),
        originalPaymentInformationId,
        status: code(t.TxSts, `${at}/TxSts`) ?? inheritable(status) ?? inheritable(groupStatus),
        reasons: reasons(t, at),
      });
    });
  });
  if (groupStatus === null && transactions.length === 0 && paymentInformation.every((p) => p.status === null))
    throw bad('CstmrPmtStsRpt', 'the report states no status for the group, a payment block or a transaction');
  return { messageId, originalMessageId, originalMessageNameId, groupStatus, groupReasons, paymentInformation, transactions };
}
