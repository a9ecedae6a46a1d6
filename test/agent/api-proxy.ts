import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  requestBytes: number;
  requestBody: string;
  status: number;
  responseBody: string;
}

/**
 * A pass-through proxy in front of the real API, for agent tests: every request goes to the API
 * and its answer comes back unchanged (so the API, not the test, decides 200, 409 or 413), and
 * each exchange is kept for the test to read; a test may hold one path's requests a while. One rewrite, for what the server does not send
 * yet: `leaseExtras` adds fields (minTokensPerSecond, seed) to the jobs a node's lease returns.
 */
export async function apiProxy(target: string) {
  const exchanges: Exchange[] = [];
  const leaseExtras = new Map<string, Record<string, unknown>>();
  /** Requests to these paths wait for the gate to open before they go on to the API. */
  const gates = new Map<string, Promise<void>>();
  const server = http.createServer((req, res) => {
    // The agent hanging up (stopping) must end its long-poll upstream too, as it would direct:
    // else the API could lease a job to a request nobody reads any more.
    const hangUp = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) hangUp.abort();
    });
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(parts);
        await gates.get(req.url!);
        try {
          const answer = await fetch(new URL(req.url!, target), {
            method: req.method,
            headers: {
              ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
              ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
            },
            body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
            signal: hangUp.signal,
          });
          let text = await answer.text();
          const lease = /^\/v1\/nodes\/([0-9a-f-]{36})\/lease$/.exec(req.url!);
          const extra = lease && answer.status === 200 ? leaseExtras.get(lease[1]) : undefined;
          if (extra) {
            const parsed = JSON.parse(text) as { jobs: Record<string, unknown>[] };
            text = JSON.stringify({ ...parsed, jobs: parsed.jobs.map((j) => ({ ...j, ...extra })) });
          }
          exchanges.push({
            method: req.method!,
            path: req.url!,
            requestBytes: body.length,
            requestBody: body.toString(),
            status: answer.status,
            responseBody: text,
          });
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
        } catch (err) {
          if (!hangUp.signal.aborted) res.writeHead(502).end(String(err));
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exchanges,
    leaseExtras,
    /** Holds requests to `path` until the returned function is called. */
    hold(path: string): () => void {
      let open!: () => void;
      gates.set(path, new Promise<void>((r) => (open = r)));
      return () => {
        gates.delete(path);
        open();
      };
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The completion reports a node sent, with what the API answered. */
export function completionReports(exchanges: Exchange[], nodeId: string) {
  return exchanges
    .filter((e) => e.method === 'POST' && e.path === `/v1/nodes/${nodeId}/completions`)
    .map((e) => ({
      status: e.status,
      bytes: e.requestBytes,
      completions: (JSON.parse(e.requestBody) as { completions: { jobId: string; usageEstimated?: boolean }[] }).completions,
      items: e.status === 200 ? (JSON.parse(e.responseBody) as { items: { jobId: string; status: number }[] }).items : [],
    }));
}
