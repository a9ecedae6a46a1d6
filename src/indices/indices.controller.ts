import { Body, Controller, Get, Header, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Public, Roles } from '../platform/auth/auth.decorators.js';
import { parseAmount } from '../platform/money/money.js';
import { assertBusinessDate } from '../platform/http/params.js';
import type { Principal } from '../platform/http/request-context.js';
import { PageQueryDto } from '../platform/pagination/page.js';
import { FixingsQueryDto, ProposeCorrectionDto, RunFixingDto } from './dto/indices.dto.js';
import { IndexCorrectionsService } from './index-corrections.service.js';
import { IndexFixingService } from './index-fixing.service.js';
import { IndexQueriesService } from './index-queries.service.js';

// src/indices or dist/indices → the repository's docs/ (the image copies docs/ beside dist/).
const METHODOLOGY_FILE = resolve(import.meta.dirname, '..', '..', 'docs', 'index-methodology.md');
const PUBLIC_THROTTLE = { default: { limit: 120, ttl: 60_000 } };

/**
 * The TokenClear token index (SPEC §6.8): public reads (no key, rate-limited per address,
 * cacheable), clearing staff's fixing of an ended date and corrections under four eyes.
 */
@ApiTags('indices')
@Controller('v1/indices')
export class IndicesController {
  constructor(
    private readonly queries: IndexQueriesService,
    private readonly fixings: IndexFixingService,
    private readonly corrections: IndexCorrectionsService,
  ) {}

  @Get()
  @Public()
  @Throttle(PUBLIC_THROTTLE)
  @Header('Cache-Control', 'public, max-age=5')
  @ApiOperation({ summary: 'The token indices with their latest effective fixing (public). Methodology: GET /v1/indices/methodology' })
  list(@Query() q: PageQueryDto) {
    return this.queries.indices(q.cursor, q.limit ?? 50);
  }

  @Get('methodology')
  @Public()
  @Throttle(PUBLIC_THROTTLE)
  @Header('Content-Type', 'text/markdown; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiProduces('text/markdown')
  @ApiOperation({ summary: 'How the indices are computed, published and corrected (IOSCO-style methodology, markdown)' })
  methodology(): Promise<string> {
    return readFile(METHODOLOGY_FILE, 'utf8');
  }

  @Get(':code/fixings')
  @Public()
  @Throttle(PUBLIC_THROTTLE)
  @Header('Cache-Control', 'public, max-age=5')
  @ApiOperation({
    summary: 'Published fixings of an index by business date (public; corrections appear beside what they correct)',
    description:
      'price in CNY per 1M tokens; `effective` marks the fixing that counts for its date. Methodology: GET /v1/indices/methodology',
  })
  fixingsOf(@Param('code') code: string, @Query() q: FixingsQueryDto) {
    assertBusinessDate(q.from, 'from');
    assertBusinessDate(q.to, 'to');
    return this.queries.fixings(code, { from: q.from, to: q.to, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  /** Clearing staff fix an ended business date (what the cut-off job does); idempotent per index and date. */
  @Post(':code/fixings/run')
  @ApiBearerAuth()
  @Roles('clearing')
  @Audited('indices.fixing.run', 'token-index')
  async run(@Param('code') code: string, @Body() body: RunFixingDto) {
    assertBusinessDate(body.businessDate);
    const outcome = await this.fixings.fix(code, body.businessDate);
    return {
      indexCode: outcome.indexCode,
      businessDate: outcome.businessDate,
      created: outcome.created,
      fixing: outcome.fixing ? (await this.queries.staffViews([outcome.fixing]))[0] : null,
    };
  }

  @Post(':code/fixings/:id/corrections')
  @ApiBearerAuth()
  @Roles('clearing')
  @Audited('indices.correction.propose', 'token-index-fixing')
  async propose(
    @CurrentPrincipal() p: Principal,
    @Param('code') code: string,
    @Param('id') id: string,
    @Body() body: ProposeCorrectionDto,
  ) {
    const priceFen = parseAmount(body.price, 'price');
    return (await this.queries.staffViews([await this.corrections.propose(p, code, id, priceFen, body.reason)]))[0];
  }

  @Post('fixings/:id/approve')
  @HttpCode(200)
  @ApiBearerAuth()
  @Roles('clearing')
  @Audited('indices.correction.approve', 'token-index-fixing')
  async approve(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return (await this.queries.staffViews([await this.corrections.approve(p, id)]))[0];
  }

  @Post('fixings/:id/reject')
  @HttpCode(200)
  @ApiBearerAuth()
  @Roles('clearing')
  @Audited('indices.correction.reject', 'token-index-fixing')
  async reject(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return (await this.queries.staffViews([await this.corrections.reject(p, id)]))[0];
  }
}
