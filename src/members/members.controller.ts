import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiCreatedResponse, ApiTags, ApiHeader } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { idForRequest } from '../platform/idempotency/deterministic-id.js';
import { IssuesSecret } from '../platform/idempotency/issues-secret.decorator.js';
import type { Principal } from '../platform/http/request-context.js';
import { PageQueryDto, type Page } from '../platform/pagination/page.js';
import { ApiKeyCreatedView, ApiKeyView, CreateApiKeyDto, CreateMemberDto, MeView, MemberView, UpdateMemberDto } from './dto/member.dto.js';
import { MembersRepository } from './members.repository.js';
import { MembersService } from './members.service.js';

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: false, description: 'Replays the first response' };

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1')
export class MembersController {
  constructor(
    private readonly service: MembersService,
    private readonly members: MembersRepository,
  ) {}

  @Get('me')
  @ApiOkResponse({ type: MeView })
  async me(@CurrentPrincipal() p: Principal): Promise<MeView> {
    const member = await this.members.findById(p.memberId);
    return { memberId: p.memberId, role: p.role, keyId: p.keyId, memberName: member?.name ?? '', memberKind: p.memberKind };
  }

  @Post('members')
  @Roles('clearing')
  @Audited('member.create', 'member')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: MemberView })
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateMemberDto, @Headers('idempotency-key') key?: string): Promise<MemberView> {
    return this.service.create(body.name, body.kind, idForRequest('member', p.memberId, key));
  }

  @Get('members')
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQueryDto): Promise<Page<MemberView>> {
    return this.service.list(p, q.cursor, q.limit ?? 50);
  }

  @Get('members/:id')
  @ApiOkResponse({ type: MemberView })
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<MemberView> {
    return this.service.get(p, id);
  }

  @Patch('members/:id')
  @Roles('clearing')
  @Audited('member.update-status', 'member')
  @ApiOkResponse({ type: MemberView })
  update(@Param('id') id: string, @Body() body: UpdateMemberDto): Promise<MemberView> {
    return this.service.setStatus(id, body.status);
  }

  @Post('members/:id/api-keys')
  @Roles('clearing')
  @Audited('api-key.create', 'api-key')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @IssuesSecret('api-key')
  @ApiCreatedResponse({ type: ApiKeyCreatedView })
  createKey(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: CreateApiKeyDto): Promise<ApiKeyCreatedView> {
    return this.service.createKey(p, id, body.role, body.label);
  }

  @Get('members/:id/api-keys')
  @ApiOkResponse({ type: [ApiKeyView] })
  listKeys(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() q: PageQueryDto): Promise<Page<ApiKeyView>> {
    return this.service.listKeys(p, id, q.cursor, q.limit ?? 50);
  }

  @Delete('api-keys/:id')
  @HttpCode(200)
  @Audited('api-key.revoke', 'api-key')
  @ApiOkResponse({ type: ApiKeyView })
  revoke(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<ApiKeyView> {
    return this.service.revokeKey(p, id);
  }
}
