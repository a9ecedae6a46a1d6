import { Injectable, UseGuards, applyDecorators, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { hashApiKey, hashesEqual, parseBearer } from '../platform/auth/api-key.js';
import { Public } from '../platform/auth/auth.decorators.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { TcRequest } from '../platform/http/request-context.js';
import { CapacityRepository } from './capacity.repository.js';

export interface NodePrincipal {
  nodeId: string;
  operatorId: string;
}

/** Authenticates a node agent by its node token; a token works only for its own node (`:id`). */
@Injectable()
export class NodeTokenGuard implements CanActivate {
  /** Routes under /v1/nodes/:id accept only that node's token. */
  protected readonly ownNodeParam: boolean = true;

  constructor(private readonly capacity: CapacityRepository) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TcRequest & { node?: NodePrincipal }>();
    const token = parseBearer(req.header('authorization'));
    if (!token?.startsWith('tcn_')) throw new DomainError('NODE_TOKEN_INVALID', 'Send Authorization: Bearer <node token>');
    const hash = hashApiKey(token);
    const node = await this.capacity.findNodeByTokenHash(hash);
    if (!node || !hashesEqual(node.tokenHash, hash)) throw new DomainError('NODE_TOKEN_INVALID');
    // A suspended operator's nodes take no work and report none (its leases go back to dispatch).
    if (node.operatorStatus !== 'ACTIVE') throw new DomainError('MEMBER_SUSPENDED', 'the operator of this node is suspended');
    if (this.ownNodeParam && (req.params as Record<string, string>).id !== node.id) throw new DomainError('NOT_FOUND', 'node not found');
    req.node = { nodeId: node.id, operatorId: node.operatorId };
    return true;
  }
}

/** Route called by a node agent with its node token instead of an API key. */
export const NodeAuth = () => applyDecorators(Public(), UseGuards(NodeTokenGuard), ApiBearerAuth());

/** Node-token authentication for routes about a node's work (a job id in the path, not a node id). */
@Injectable()
export class AnyNodeTokenGuard extends NodeTokenGuard {
  protected override readonly ownNodeParam = false;
}

export const NodeAuthForJob = () => applyDecorators(Public(), UseGuards(AnyNodeTokenGuard), ApiBearerAuth());
