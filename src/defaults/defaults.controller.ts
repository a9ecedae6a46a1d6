import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { toTransferView } from '../ledger/ledger-queries.service.js';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import type { Principal } from '../platform/http/request-context.js';
import { parseAmount, parseCurrency } from '../platform/money/money.js';
import { PageQueryDto } from '../platform/pagination/page.js';
import { BuyInService } from './buy-in.service.js';
import { DefaultsService } from './defaults.service.js';
import {
  BidDto,
  CapitalDto,
  DefaultView,
  DefaultsQueryDto,
  GuaranteeRequirementDto,
  GuaranteeView,
  ProposeDefaultDto,
  StandbyOfferDto,
} from './dto/defaults.dto.js';
import { GuaranteeService } from './guarantee.service.js';

@ApiTags('defaults')
@ApiBearerAuth()
@Controller('v1')
export class DefaultsController {
  constructor(
    private readonly defaults: DefaultsService,
    private readonly guarantee: GuaranteeService,
    private readonly buyIns: BuyInService,
  ) {}

  @Put('members/:id/guarantee-requirement')
  @Roles('clearing')
  @Audited('defaults.guarantee-requirement', 'member')
  @ApiOkResponse({ type: GuaranteeView })
  setRequirement(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: GuaranteeRequirementDto): Promise<GuaranteeView> {
    const amount = parseAmount(body.amount, 'amount', { allowZero: true });
    parseCurrency(body.currency);
    return this.guarantee.setRequirement(p, id, amount);
  }

  @Get('members/:id/guarantee')
  @ApiOkResponse({ type: GuaranteeView })
  getGuarantee(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<GuaranteeView> {
    return this.guarantee.view(p, id);
  }

  @Post('ccp/capital')
  @Roles('clearing')
  @Audited('defaults.ccp-capital', 'ledger')
  async capital(@Body() body: CapitalDto) {
    const amount = parseAmount(body.amount);
    parseCurrency(body.currency);
    return toTransferView(await this.guarantee.recordCapital(amount, body.reference));
  }

  @Post('defaults')
  @Roles('clearing')
  @Audited('defaults.propose', 'default')
  propose(@CurrentPrincipal() p: Principal, @Body() body: ProposeDefaultDto): Promise<DefaultView> {
    return this.defaults.propose(p, body.memberId, body.reason);
  }

  @Post('defaults/:id/approve')
  @Roles('clearing')
  @HttpCode(200)
  @Audited('defaults.approve', 'default')
  approve(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<DefaultView> {
    return this.defaults.approve(p, id);
  }

  @Get('defaults')
  list(@CurrentPrincipal() p: Principal, @Query() q: DefaultsQueryDto) {
    return this.defaults.list(p, q);
  }

  @Get('defaults/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.defaults.get(p, id);
  }

  @Post('defaults/:id/bids')
  @Roles('operator', 'buyer', 'trader')
  @Audited('defaults.bid', 'default')
  bid(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: BidDto) {
    return this.defaults.bid(p, id, body);
  }

  @Post('standby-offers')
  @Roles('operator')
  @Audited('defaults.standby-offer', 'standby-offer')
  offer(@CurrentPrincipal() p: Principal, @Body() body: StandbyOfferDto) {
    return this.buyIns.offer(p, body);
  }

  @Get('standby-offers')
  @Roles('operator', 'clearing')
  offers(@CurrentPrincipal() p: Principal, @Query() q: PageQueryDto) {
    return this.buyIns.list(p, q);
  }

  @Post('obligations/:id/buy-in')
  @Roles('clearing')
  @HttpCode(200)
  @Audited('defaults.buy-in', 'obligation')
  buyIn(@Param('id') id: string) {
    return this.buyIns.buyIn(id);
  }
}
