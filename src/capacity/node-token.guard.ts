import { Injectable, UseGuards, applyDecorators, type CanActivate, type ExecutionContext, type NestMiddleware } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { hashApiKey, hashesEqual, parseBearer } from '../platform/auth/api-key.js';
import { Public } from '../platform/auth/auth.decorators.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { TcRequest } from '../platform/http/request-context.js';
import { settledLater } from '../platform/batching/group-commit.js';
import { CapacityRepository, type NodeCredential } from './capacity.repository.js';

export interface NodePrincipal {
  nodeId: string;
  operatorId: string;
}

/** A node token's lookup, started as the request arrived (see NodeTokenPrefetch). */
interface NodeTokenLookup {
  token: string;
  hash: string;
  node: Promise<NodeCredential | null>;
}

type NodeAuthRequest = TcRequest & { node?: NodePrincipal; nodeTokenLookup?: NodeTokenLookup };

/**
 * Starts a node token's lookup as the request arrives, so that Postgres answers it while the
 * global guard counts the request against its rate limits in Redis, rather than after: the guards
 * run one after another, and under bench:delivery's load each of those waits is a turn of a busy
 * event loop (15–20 ms). NodeTokenGuard awaits it; a failed lookup is the guard's to report, never
 * an unhandled rejection meanwhile.
 */
@Injectable()
export class NodeTokenPrefetch implements NestMiddleware {
  constructor(private readonly capacity: CapacityRepository) {}

  use(req: NodeAuthRequest, _res: unknown, next: () => void): void {
    const token = parseBearer(req.header('authorization'));
    if (token?.startsWith('tcn_')) {
      const hash = hashApiKey(token);
      req.nodeTokenLookup = { token, hash, node: settledLater(this.capacity.findNodeByTokenHash(hash)) };
    }
    next();
  }
}

/** Authenticates a node agent by its node token; a token works only for its own node (`:id`). */
@Injectable()
export class NodeTokenGuard implements CanActivate {
  /** Routes under /v1/nodes/:id accept only that node's token. */
  protected readonly ownNodeParam: boolean = true;

  constructor(private readonly capacity: CapacityRepository) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<NodeAuthRequest>();
    const token = parseBearer(req.header('authorization'));
    if (!token?.startsWith('tcn_')) throw new DomainError('NODE_TOKEN_INVALID', 'Send Authorization: Bearer <node token>');
    // The prefetch's hash and lookup when it saw this token (hashed once, not again here).
    const lookup = req.nodeTokenLookup?.token === token ? req.nodeTokenLookup : undefined;
    const hash = lookup?.hash ?? hashApiKey(token);
    const node = await (lookup?.node ?? this.capacity.findNodeByTokenHash(hash));
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
