import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { uuidParam } from '../platform/http/params.js';
import type { Principal } from '../platform/http/request-context.js';
import { parseAmount, parseCurrency } from '../platform/money/money.js';
import { AdjustmentsService, adjustmentView } from './adjustments.service.js';
import { AuditTrailService } from './audit-trail.service.js';
import { BreaksService, breakView } from './breaks.service.js';
import {
  AdjustmentsQueryDto,
  ApproveAdjustmentDto,
  AuditQueryDto,
  BreaksQueryDto,
  ProposeAdjustmentDto,
  RejectAdjustmentDto,
  ResolveBreakDto,
} from './dto/reconciliation.dto.js';
import { ReconciliationService } from './reconciliation.service.js';

/** Clearing staff's daily work: reconciliation, breaks, four-eyes adjustments, the audit trail. */
@ApiTags('reconciliation')
@ApiBearerAuth()
@Roles('clearing')
@Controller('v1')
export class ReconciliationController {
  constructor(
    private readonly recon: ReconciliationService,
    private readonly breaks: BreaksService,
    private readonly adjustments: AdjustmentsService,
    private readonly auditTrail: AuditTrailService,
  ) {}

  @Post('reconciliation/runs')
  @Audited('reconciliation.run', 'reconciliation-run')
  async run(@CurrentPrincipal() p: Principal) {
    return this.recon.run('MANUAL', p.keyId);
  }

  @Get('reconciliation/runs/:id')
  async getRun(@Param('id') id: string) {
    return this.recon.get(uuidParam(id, 'run'));
  }

  @Get('reconciliation/breaks')
  listBreaks(@Query() q: BreaksQueryDto) {
    return this.breaks.list(q);
  }

  @Post('reconciliation/breaks/:id/resolve')
  @Audited('reconciliation.break.resolve', 'break')
  async resolve(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: ResolveBreakDto) {
    return breakView(await this.breaks.resolve(p, uuidParam(id, 'break'), body.comment, body.adjustmentId));
  }

  @Post('adjustments')
  @Audited('adjustment.propose', 'adjustment')
  async propose(@CurrentPrincipal() p: Principal, @Body() body: ProposeAdjustmentDto) {
    parseCurrency(body.currency);
    const amountFen = parseAmount(body.amount);
    return adjustmentView(
      await this.adjustments.propose(p, {
        debitAccount: body.debitAccount,
        creditAccount: body.creditAccount,
        amountFen,
        reason: body.reason,
        breakId: body.breakId ?? null,
      }),
    );
  }

  @Get('adjustments')
  listAdjustments(@Query() q: AdjustmentsQueryDto) {
    return this.adjustments.list(q);
  }

  @Get('adjustments/:id')
  async getAdjustment(@Param('id') id: string) {
    return adjustmentView(await this.adjustments.get(uuidParam(id, 'adjustment')));
  }

  @Post('adjustments/:id/approve')
  @Audited('adjustment.approve', 'adjustment')
  async approve(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: ApproveAdjustmentDto) {
    return adjustmentView(await this.adjustments.approve(p, uuidParam(id, 'adjustment'), body.payloadHash));
  }

  @Post('adjustments/:id/reject')
  @Audited('adjustment.reject', 'adjustment')
  async reject(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: RejectAdjustmentDto) {
    return adjustmentView(await this.adjustments.reject(p, uuidParam(id, 'adjustment'), body.comment));
  }

  @Get('audit-events')
  auditEvents(@Query() q: AuditQueryDto) {
    return this.auditTrail.list(q);
  }
}
