import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { IssuesSecret } from '../platform/idempotency/issues-secret.decorator.js';
import { Audited, NotAudited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import type { Principal, TcRequest } from '../platform/http/request-context.js';
import { PageQueryDto, type Page } from '../platform/pagination/page.js';
import { CapacityViewService } from './capacity-view.service.js';
import { CapacityService, toNodeView } from './capacity.service.js';
import {
  CapacityQueryDto,
  CapacityRowView,
  CreateDataCenterDto,
  CreateNodeDto,
  DataCenterView,
  HeartbeatDto,
  NodeCreatedView,
  NodeTokenView,
  NodeView,
  UpdateNodeDto,
} from './dto/capacity.dto.js';
import { NodeAuth, type NodePrincipal } from './node-token.guard.js';

@ApiTags('capacity')
@ApiBearerAuth()
@Controller('v1')
export class CapacityController {
  constructor(
    private readonly capacity: CapacityService,
    private readonly view: CapacityViewService,
  ) {}

  @Post('datacenters')
  @Roles('operator')
  @Audited('capacity.datacenter.create', 'datacenter')
  @ApiCreatedResponse({ type: DataCenterView })
  createDataCenter(@CurrentPrincipal() p: Principal, @Body() body: CreateDataCenterDto): Promise<DataCenterView> {
    return this.capacity.createDataCenter(p, body.name, body.region);
  }

  @Get('datacenters')
  @Roles('operator', 'clearing')
  listDataCenters(@CurrentPrincipal() p: Principal, @Query() q: PageQueryDto): Promise<Page<DataCenterView>> {
    return this.capacity.listDataCenters(p, q.cursor, q.limit ?? 50);
  }

  @Post('nodes')
  @Roles('operator')
  @Audited('capacity.node.register', 'node')
  @IssuesSecret('node')
  @ApiCreatedResponse({ type: NodeCreatedView })
  createNode(@CurrentPrincipal() p: Principal, @Body() body: CreateNodeDto): Promise<NodeCreatedView> {
    return this.capacity.createNode(p, body);
  }

  @Get('nodes')
  @Roles('operator', 'clearing')
  listNodes(@CurrentPrincipal() p: Principal, @Query() q: PageQueryDto): Promise<Page<NodeView>> {
    return this.capacity.listNodes(p, q.cursor, q.limit ?? 50);
  }

  @Get('nodes/:id')
  @Roles('operator', 'clearing')
  @ApiOkResponse({ type: NodeView })
  async getNode(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<NodeView> {
    return toNodeView(await this.capacity.getNode(p, id));
  }

  @Post('nodes/:id/token')
  @Roles('operator')
  @HttpCode(200)
  @Audited('capacity.node.rotate-token', 'node')
  @IssuesSecret('node token')
  @ApiOkResponse({ type: NodeTokenView })
  rotateToken(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<NodeTokenView> {
    return this.capacity.rotateToken(p, id);
  }

  @Patch('nodes/:id')
  @Roles('operator')
  @Audited('capacity.node.update', 'node')
  @ApiOkResponse({ type: NodeView })
  updateNode(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: UpdateNodeDto): Promise<NodeView> {
    return this.capacity.updateNode(p, id, body);
  }

  @Post('nodes/:id/heartbeat')
  @ApiParam({ name: 'id', type: String, description: 'the node (its token authenticates it)' })
  @NodeAuth()
  @NotAudited()
  @HttpCode(200)
  heartbeat(
    @Req() req: TcRequest & { node: NodePrincipal },
    @Body() body: HeartbeatDto,
  ): Promise<{ status: string; nextHeartbeatInMs: number }> {
    return this.capacity.heartbeat(req.node.nodeId, body.load, body.models, body.leases);
  }

  @Get('capacity')
  aggregate(@Query() q: CapacityQueryDto): Promise<Page<CapacityRowView>> {
    if (q.region) this.capacity.assertRegion(q.region);
    if (q.modelClass) this.capacity.assertModelClass(q.modelClass);
    return this.view.aggregatePage({ modelClass: q.modelClass, region: q.region }, q.cursor, q.limit ?? 50);
  }
}
