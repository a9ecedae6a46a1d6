import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import type { Principal } from '../platform/http/request-context.js';
import { idForRequest } from '../platform/idempotency/deterministic-id.js';
import { parseAmount, parseCurrency } from '../platform/money/money.js';
import type { Page } from '../platform/pagination/page.js';
import { CashService } from './cash.service.js';
import {
  BalancesView,
  DecisionDto,
  DepositDto,
  TransferView,
  TransfersQueryDto,
  TrialBalanceQueryDto,
  TrialBalanceView,
  WithdrawalDto,
  WithdrawalView,
  WithdrawalsQueryDto,
} from './dto/cash.dto.js';
import { LedgerQueries, toTransferView, toWithdrawalView } from './ledger-queries.service.js';

@ApiTags('cash')
@ApiBearerAuth()
@Controller('v1')
export class LedgerController {
  constructor(
    private readonly cash: CashService,
    private readonly queries: LedgerQueries,
  ) {}

  @Post('members/:id/deposits')
  @Roles('clearing')
  @Audited('cash.deposit', 'member')
  @ApiCreatedResponse({ type: TransferView })
  async deposit(@Param('id') memberId: string, @Body() body: DepositDto): Promise<TransferView & { memberId: string }> {
    const amount = parseAmount(body.amount);
    parseCurrency(body.currency);
    return Object.assign(toTransferView(await this.cash.deposit(memberId, amount, body.reference)), { memberId });
  }

  @Post('members/:id/withdrawals')
  @Roles('operator', 'buyer', 'trader')
  @Audited('cash.withdrawal.request', 'member')
  @ApiCreatedResponse({ type: WithdrawalView })
  async withdraw(
    @CurrentPrincipal() p: Principal,
    @Param('id') memberId: string,
    @Body() body: WithdrawalDto,
    @Headers('idempotency-key') key?: string,
  ): Promise<WithdrawalView> {
    const amount = parseAmount(body.amount);
    parseCurrency(body.currency);
    return toWithdrawalView(await this.cash.requestWithdrawal(p, memberId, amount, idForRequest('withdrawal', p.memberId, key)));
  }

  @Post('withdrawals/:id/approve')
  @Roles('clearing')
  @HttpCode(200)
  @Audited('cash.withdrawal.approve', 'withdrawal')
  @ApiOkResponse({ type: WithdrawalView })
  async approve(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: DecisionDto): Promise<WithdrawalView> {
    return toWithdrawalView(await this.cash.decide(p, id, 'APPROVED', body.reason));
  }

  @Post('withdrawals/:id/reject')
  @Roles('clearing')
  @HttpCode(200)
  @Audited('cash.withdrawal.reject', 'withdrawal')
  @ApiOkResponse({ type: WithdrawalView })
  async reject(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: DecisionDto): Promise<WithdrawalView> {
    return toWithdrawalView(await this.cash.decide(p, id, 'REJECTED', body.reason));
  }

  @Get('withdrawals')
  async listWithdrawals(@CurrentPrincipal() p: Principal, @Query() q: WithdrawalsQueryDto): Promise<Page<WithdrawalView>> {
    const page = await this.cash.listWithdrawals(p, { status: q.status, cursor: q.cursor, limit: q.limit ?? 50 });
    return { items: page.items.map(toWithdrawalView), nextCursor: page.nextCursor };
  }

  @Get('withdrawals/:id')
  @ApiOkResponse({ type: WithdrawalView })
  async getWithdrawal(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<WithdrawalView> {
    return toWithdrawalView(await this.cash.getWithdrawal(p, id));
  }

  @Get('members/:id/balances')
  @ApiOkResponse({ type: BalancesView })
  balances(@CurrentPrincipal() p: Principal, @Param('id') memberId: string): Promise<BalancesView> {
    return this.queries.balances(p, memberId);
  }

  @Get('members/:id/transfers')
  transfers(@CurrentPrincipal() p: Principal, @Param('id') memberId: string, @Query() q: TransfersQueryDto): Promise<Page<TransferView>> {
    return this.queries.transfers(p, memberId, { kind: q.kind, from: q.from, to: q.to, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Get('ledger/trial-balance')
  @Roles('clearing')
  @ApiOkResponse({ type: TrialBalanceView })
  trialBalance(@Query() q: TrialBalanceQueryDto): Promise<TrialBalanceView> {
    // A trial balance is read whole: by default the largest page, so a small ledger is one request.
    return this.queries.trialBalance({ cursor: q.cursor, limit: q.limit ?? 500 });
  }
}
