import { parseArgs } from 'node:util';

export interface AgentConfig {
  api: string;
  nodeId: string;
  token: string;
  engine: { kind: 'simulate'; rate: number } | { kind: 'openai'; url: string; models: Record<string, string>; apiKey?: string };
  heartbeatMs: number;
  /** Jobs run at once. */
  concurrency: number;
  leaseWaitSeconds: number;
}

export const AGENT_USAGE = `usage: npm run agent -- --api <url> --node <id> --token <node token>
                       (--inference-url <url> [--model <class>=<name> ...] [--inference-key <key>]
                        | --simulate [--rate <tokens/s>])
                       [--heartbeat-ms <ms>] [--concurrency <jobs>] [--lease-wait <s>]
  The token may also come from TOKENCLEAR_NODE_TOKEN (keeps it out of the process list).`;

export class AgentUsageError extends Error {}

/** Parses and validates the agent's command line; every mistake names the flag. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string' },
      node: { type: 'string' },
      token: { type: 'string' },
      'inference-url': { type: 'string' },
      'inference-key': { type: 'string' },
      model: { type: 'string', multiple: true },
      simulate: { type: 'boolean' },
      rate: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      concurrency: { type: 'string' },
      'lease-wait': { type: 'string' },
    },
    strict: true,
  });
  const fail = (m: string): never => {
    throw new AgentUsageError(m);
  };
  const api = values.api ?? fail('--api is required');
  if (!/^https?:\/\//.test(api)) fail('--api must be an http(s) URL');
  const nodeId = values.node ?? fail('--node is required');
  if (!/^[0-9a-f-]{36}$/.test(nodeId)) fail('--node must be the node id (a UUID)');
  const token = values.token ?? env.TOKENCLEAR_NODE_TOKEN ?? fail('--token (or TOKENCLEAR_NODE_TOKEN) is required');
  if (!token.startsWith('tcn_')) fail('--token must be a node token (tcn_…)');
  if (values.simulate && values['inference-url']) fail('use either --simulate or --inference-url, not both');
  const heartbeatMs = Number(values['heartbeat-ms'] ?? 10_000);
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 50) fail('--heartbeat-ms must be a whole number ≥ 50');
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) fail('--concurrency must be a whole number 1…1024');
  const leaseWaitSeconds = Number(values['lease-wait'] ?? 20);
  if (!Number.isInteger(leaseWaitSeconds) || leaseWaitSeconds < 0 || leaseWaitSeconds > 60) fail('--lease-wait must be 0…60 seconds');
  let engine: AgentConfig['engine'];
  if (values.simulate) {
    const rate = Number(values.rate ?? 50);
    if (!Number.isInteger(rate) || rate < 0) fail('--rate must be a whole number of tokens/s (0 = instant)');
    engine = { kind: 'simulate', rate };
  } else {
    const url = values['inference-url'] ?? fail('one of --inference-url or --simulate is required');
    if (!/^https?:\/\//.test(url)) fail('--inference-url must be an http(s) URL');
    const models: Record<string, string> = {};
    for (const m of values.model ?? []) {
      const [cls, name] = m.split('=');
      if (!cls || !name) fail(`--model takes <class>=<served model name>, got ${m}`);
      models[cls] = name;
    }
    engine = { kind: 'openai', url, models, apiKey: values['inference-key'] };
  }
  return { api, nodeId, token, engine, heartbeatMs, concurrency, leaseWaitSeconds };
}
