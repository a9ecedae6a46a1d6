import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { uuidParam } from '../platform/http/params.js';
import type { Principal } from '../platform/http/request-context.js';
import { PageQueryDto, type Page } from '../platform/pagination/page.js';
import { BankAccountDecisionDto, BankAccountView, ProposeBankAccountDto } from './bank-accounts.dto.js';
import { BankAccountsService, bankAccountView } from './bank-accounts.service.js';

@ApiTags('cash')
@ApiBearerAuth()
@Controller('v1')
export class BankAccountsController {
  constructor(private readonly accounts: BankAccountsService) {}

  /** The member itself or clearing proposes; PENDING until a second person verifies it. */
  @Post('members/:id/bank-accounts')
  @Audited('bank-account.propose', 'member')
  @ApiCreatedResponse({ type: BankAccountView })
  async propose(@CurrentPrincipal() p: Principal, @Param('id') memberId: string, @Body() body: ProposeBankAccountDto) {
    return bankAccountView(await this.accounts.propose(p, memberId, body));
  }

  @Get('members/:id/bank-accounts')
  list(@CurrentPrincipal() p: Principal, @Param('id') memberId: string, @Query() q: PageQueryDto): Promise<Page<BankAccountView>> {
    return this.accounts.list(p, memberId, q);
  }

  @Post('bank-accounts/:id/approve')
  @HttpCode(200)
  @Roles('clearing')
  @Audited('bank-account.approve', 'bank-account')
  @ApiOkResponse({ type: BankAccountView })
  async approve(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: BankAccountDecisionDto) {
    return bankAccountView(await this.accounts.decide(p, uuidParam(id, 'bank account'), 'VERIFIED', body.reason));
  }

  @Post('bank-accounts/:id/reject')
  @HttpCode(200)
  @Roles('clearing')
  @Audited('bank-account.reject', 'bank-account')
  @ApiOkResponse({ type: BankAccountView })
  async reject(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: BankAccountDecisionDto) {
    return bankAccountView(await this.accounts.decide(p, uuidParam(id, 'bank account'), 'REJECTED', body.reason));
  }
}
