import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import type { Principal } from '../platform/http/request-context.js';
import { IssuesSecret } from '../platform/idempotency/issues-secret.decorator.js';
import { PageQueryDto, type Page } from '../platform/pagination/page.js';
import { ProposeStaffDto, StaffApprovedView, StaffView } from './dto/staff.dto.js';
import { StaffService } from './staff.service.js';

@ApiTags('staff')
@ApiBearerAuth()
@Controller('v1/staff')
@Roles('clearing')
export class StaffController {
  constructor(private readonly staff: StaffService) {}

  @Get()
  @ApiOkResponse({ type: [StaffView] })
  list(@Query() q: PageQueryDto): Promise<Page<StaffView>> {
    return this.staff.list(q.cursor, q.limit ?? 50);
  }

  @Post()
  @Audited('staff.propose', 'staff')
  @ApiCreatedResponse({ type: StaffView })
  propose(@CurrentPrincipal() p: Principal, @Body() body: ProposeStaffDto): Promise<StaffView> {
    return this.staff.propose(p, body.name);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Audited('staff.approve', 'staff')
  @IssuesSecret('staff')
  @ApiOkResponse({ type: StaffApprovedView })
  approve(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<StaffApprovedView> {
    return this.staff.approve(p, id);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @Audited('staff.reject', 'staff')
  @ApiOkResponse({ type: StaffView })
  reject(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<StaffView> {
    return this.staff.reject(p, id);
  }
}
