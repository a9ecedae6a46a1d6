import { RequestMethod } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ALLOWED_ROLES, PUBLIC_ROUTE } from '../../src/platform/auth/auth.decorators.js';
import type { TestApp } from './test-app.js';

export interface Route {
  method: string;
  path: string;
  roles: string[] | undefined;
  public: boolean;
  /** Public to API keys but behind its own guard (node-token routes). */
  ownGuard: boolean;
}

/**
 * Every route as Nest registered it, with its auth metadata: the suites that must cover every
 * route (authorization matrix, paging, OWASP) derive it rather than list routes by hand.
 */
export function routes(t: TestApp): Route[] {
  const discovery = t.app.get(DiscoveryService);
  const scanner = t.app.get(MetadataScanner);
  const reflector = t.app.get(Reflector);
  const out: Route[] = [];
  for (const wrapper of discovery.getControllers()) {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance) continue;
    const proto = Object.getPrototypeOf(instance) as object;
    const base = String(Reflect.getMetadata(PATH_METADATA, proto.constructor) ?? '');
    for (const name of scanner.getAllMethodNames(proto)) {
      const handler = instance[name] as (...a: unknown[]) => unknown;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (path === undefined || method === undefined) continue;
      out.push({
        method: RequestMethod[method],
        path: `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/'),
        roles: reflector.getAllAndOverride<string[] | undefined>(ALLOWED_ROLES, [handler, proto.constructor]),
        public: reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, [handler, proto.constructor]) === true,
        ownGuard: ((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []).length > 0,
      });
    }
  }
  return out;
}
