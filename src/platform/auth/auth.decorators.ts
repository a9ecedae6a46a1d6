import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiRole } from '../../generated/prisma/enums.js';
import type { Principal, TcRequest } from '../http/request-context.js';

export const PUBLIC_ROUTE = 'tc:public';
export const ALLOWED_ROLES = 'tc:roles';

/** No API key needed (health, metrics, docs). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** Only these roles may call the route; without it any authenticated role may. */
export const Roles = (...roles: ApiRole[]): MethodDecorator & ClassDecorator => SetMetadata(ALLOWED_ROLES, roles);

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<TcRequest>().principal;
  // The guard runs first on every non-public route; reaching here without one is a wiring bug.
  if (!principal) throw new Error('CurrentPrincipal used on a public route');
  return principal;
});
