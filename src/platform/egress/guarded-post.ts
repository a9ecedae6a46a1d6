import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { EgressPolicy } from './egress-policy.js';

export interface GuardedPostResult {
  status: number;
  /** At most `maxResponseBytes` of the body; the rest is never read. */
  body: string;
}

/** Resolves a name to all its addresses (the system resolver unless a test names another). */
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * POSTs to a member-supplied URL under the egress policy. The name is resolved by our own lookup,
 * every address is checked, and the socket connects to exactly the address that was checked — so
 * a name that answers a public address to the check and 127.0.0.1 to the connection (DNS
 * rebinding) cannot get in. No redirects are followed (Node's http client never does), the
 * response is capped, and the whole exchange has a deadline.
 */
export function guardedPost(
  policy: EgressPolicy,
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  opts: { timeoutMs: number; maxResponseBytes: number; resolve?: Resolver },
): Promise<GuardedPostResult> {
  const resolveName = opts.resolve ?? systemResolver;
  const url = policy.checkUrl(rawUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const lookup = (hostname: string, options: LookupOneOptions | LookupAllOptions | number, callback: LookupCallback): void => {
    resolveName(hostname, (err, addresses) => {
      if (err) return callback(err, '');
      try {
        policy.checkResolved(
          hostname,
          addresses.map((a) => a.address),
        );
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '');
      }
      const wantAll = typeof options === 'object' && (options as LookupAllOptions).all === true;
      if (wantAll) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
  // An IP literal is not looked up by Node: check it here (checkUrl did for non-listed hosts).
  if (isIP(host)) policy.checkResolved(host, [host]);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<GuardedPostResult>((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body).toString() },
        lookup,
        timeout: opts.timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size >= opts.maxResponseBytes) return;
          chunks.push(chunk.subarray(0, opts.maxResponseBytes - size));
          size += chunk.length;
          if (size >= opts.maxResponseBytes) res.destroy();
        });
        const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
