import { Body, Controller, Get, Headers, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { Clock } from '../platform/time/clock.js';
import { addDays } from '../platform/time/business-date.js';
import { assertBusinessDate } from '../platform/http/params.js';
import { PaymentInstructionsQueryDto } from './payments.dto.js';
import { PaymentStatusService } from './payment-status.service.js';
import { PaymentsService } from './payments.service.js';

@ApiTags('reconciliation')
@ApiBearerAuth()
@Roles('clearing')
@Controller('v1')
export class PaymentsController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly statuses: PaymentStatusService,
    private readonly clock: Clock,
  ) {}

  /** Net payments per member for a business date (default: the previous one): JSON, pain.001 or CSV. */
  @Get('payment-instructions')
  async instructions(@Query() q: PaymentInstructionsQueryDto, @Res({ passthrough: true }) res: Response) {
    assertBusinessDate(q.businessDate);
    const day = q.businessDate ?? addDays(this.clock.businessDate(), -1);
    if (q.format === 'pain001') {
      res.type('application/xml').setHeader('content-disposition', `attachment; filename="pain001-${day}.xml"`);
      return this.payments.pain001(day, this.clock.now());
    }
    if (q.format === 'csv') {
      res.type('text/csv').setHeader('content-disposition', `attachment; filename="payments-${day}.csv"`);
      return this.payments.csv(day);
    }
    const page = await this.payments.instructionsPage(day, q);
    return {
      businessDate: day,
      items: page.items.map((r) => ({
        id: r.id,
        memberId: r.memberId,
        memberName: r.memberName,
        direction: r.direction,
        amount: formatFen(r.amountFen),
        currency: 'CNY',
        endToEndId: r.endToEndId,
        status: r.status,
      })),
      nextCursor: page.nextCursor,
    };
  }

  /** camt.053.001.08 XML (application/xml) or the statement CSV (text/csv), as the bank sent it. */
  @Post('bank-statements')
  @ApiConsumes('application/xml', 'text/csv')
  @Audited('bank-statement.import', 'bank-statement')
  async upload(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Headers('content-type') type?: string) {
    if (typeof body !== 'string' || !type)
      throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'send the file as application/xml (camt.053) or text/csv');
    const format = type.startsWith('text/csv') ? 'csv' : 'camt053';
    const { statement, replayed } = await this.payments.importStatement(body, format, p.keyId);
    const entries = await this.payments.entries(statement.id);
    return {
      id: statement.id,
      statementId: statement.statementId,
      format: statement.format,
      entries: statement.entries,
      matched: statement.matched,
      breaks: statement.breaks,
      // As stated by the bank and as its entries add up; a difference opens a STATEMENT_BALANCE break.
      balances:
        statement.openingFen === null || statement.closingFen === null || statement.computedClosingFen === null
          ? null
          : {
              opening: formatFen(statement.openingFen),
              closing: formatFen(statement.closingFen),
              computedClosing: formatFen(statement.computedClosingFen),
              consistent: statement.closingFen === statement.computedClosingFen,
            },
      replayed,
      items: entries,
    };
  }

  /**
   * pain.002 (application/xml), as the bank sent it: RJCT returns the payment's withdrawals to the
   * member's cash and opens a break with the bank's reason; ACSC/ACCP confirm the instruction.
   */
  @Post('payment-status-reports')
  @ApiConsumes('application/xml')
  @Audited('payment-status.import', 'payment-status-report')
  async statusReport(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Headers('content-type') type?: string) {
    if (typeof body !== 'string' || !type || type.startsWith('text/csv'))
      throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'send the pain.002 file as application/xml');
    const { report, replayed } = await this.statuses.import(body, p.keyId);
    return {
      id: report.id,
      messageId: report.messageId,
      originalMessageId: report.originalMessageId,
      transactions: report.transactions,
      replayed,
      items: await this.statuses.entries(report.id),
    };
  }
}
