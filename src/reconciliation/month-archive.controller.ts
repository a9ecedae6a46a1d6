import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { ArchiveMonthDto } from './dto/month-archive.dto.js';
import { MonthArchiveService } from './month-archive.service.js';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

@ApiTags('reconciliation')
@ApiBearerAuth()
@Roles('clearing')
@Controller('v1/reconciliation/archives')
export class MonthArchiveController {
  constructor(private readonly archives: MonthArchiveService) {}

  @Post()
  @Audited('reconciliation.archive-month', 'archived-month')
  archive(@CurrentPrincipal() p: Principal, @Body() body: ArchiveMonthDto) {
    return this.archives.archive(body.month, p.keyId);
  }

  /** Reconciles an archived month from the archive tables alone. */
  @Get(':month/check')
  check(@Param('month') month: string) {
    if (!MONTH.test(month)) throw new DomainError('VALIDATION_FAILED', 'month must be YYYY-MM');
    return this.archives.check(month);
  }
}
