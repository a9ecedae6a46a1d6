import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../platform/auth/auth.decorators.js';
import { uuidParam } from '../platform/http/params.js';
import type { Principal } from '../platform/http/request-context.js';
import { PageQueryDto } from '../platform/pagination/page.js';
import { TraceService } from './trace.service.js';

@ApiTags('delivery')
@ApiBearerAuth()
@Controller('v1')
export class TraceController {
  constructor(private readonly traces: TraceService) {}

  /** The obligation's hash-chained trace: its buyer, its seller and clearing staff may read it. */
  @Get('obligations/:id/trace')
  trace(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() q: PageQueryDto) {
    return this.traces.trace(p, uuidParam(id, 'obligation'), { limit: q.limit ?? 500, cursor: q.cursor });
  }
}
