import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/**
 * Where the clearing house may send a member's webhook (SPEC §6.2). Only public unicast
 * addresses: loopback, private, link-local (which holds the cloud metadata service at
 * 169.254.169.254), carrier-grade NAT (Alibaba Cloud's metadata at 100.100.100.200), unique-local,
 * multicast, reserved, documentation and the v4-in-v6 forms of all of them are refused. Hosts
 * named in `WEBHOOK_ALLOW_HOSTS` (tests, development) skip the address rules and may use http.
 */
export type EgressRefusal = 'SCHEME' | 'CREDENTIALS' | 'HOST' | 'ADDRESS';

export class EgressRefused extends Error {
  constructor(
    readonly reason: EgressRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'EgressRefused';
  }
}

/** True when `address` (an IP literal) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
  }
  return ip.range() === 'unicast';
}

export class EgressPolicy {
  private readonly allowed: Set<string>;

  constructor(allowHosts: readonly string[]) {
    this.allowed = new Set(allowHosts.map((h) => h.toLowerCase()));
  }

  isAllowListed(host: string): boolean {
    return this.allowed.has(bareHost(host).toLowerCase());
  }

  /**
   * The check at submit time: scheme, no credentials in the URL, and — for IP literals and
   * `localhost` — the address ranges. Names are checked again, resolved, at send time.
   */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new EgressRefused('SCHEME', 'callbackUrl is not a URL');
    }
    const host = bareHost(url.hostname).toLowerCase();
    const listed = this.allowed.has(host);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && listed)) {
      throw new EgressRefused('SCHEME', 'callbackUrl must be https (plain http only for hosts in WEBHOOK_ALLOW_HOSTS)');
    }
    if (url.username || url.password) throw new EgressRefused('CREDENTIALS', 'callbackUrl may not carry credentials');
    if (listed) return url;
    if (host === 'localhost' || host.endsWith('.localhost')) throw new EgressRefused('HOST', 'callbackUrl may not point at localhost');
    if (isIP(host) && !isPublicAddress(host)) {
      throw new EgressRefused('ADDRESS', `callbackUrl may not point at ${host}: not a public address`);
    }
    return url;
  }

  /** The check at send time, on every address a name resolved to (DNS rebinding included). */
  checkResolved(host: string, addresses: readonly string[]): void {
    if (this.allowed.has(bareHost(host).toLowerCase())) return;
    const inside = addresses.find((a) => !isPublicAddress(a));
    if (inside !== undefined) throw new EgressRefused('ADDRESS', `${host} resolves to ${inside}: not a public address`);
    if (addresses.length === 0) throw new EgressRefused('HOST', `${host} does not resolve`);
  }
}

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 host. */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
