import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_INFERENCE_TIMEOUT_MS } from './inference/inference.js';
import { DEFAULT_TTFT_ALLOWANCE_MS, MAX_JOB_TIMEOUT_MS, type TimeoutRule } from './job-timeout.js';

export interface AgentConfig {
  api: string;
  nodeId: string;
  token: string;
  engine: { kind: 'simulate'; rate: number } | { kind: 'openai'; url: string; models: Record<string, string>; apiKey?: string };
  heartbeatMs: number;
  /** Jobs run at once. */
  concurrency: number;
  leaseWaitSeconds: number;
  /** Each job's inference time limit: fixed, or from its maxTokens and the product's rate floor. */
  timeouts: TimeoutRule;
  /** Largest completion report body sent at once, bytes. */
  reportMaxBytes: number;
}

export const DEFAULT_REPORT_MAX_BYTES = 512 * 1024;

export const AGENT_USAGE = `usage: npm run agent -- --api <url> --node <id> [--token <node token>]
                       (--inference-url <url> [--model <class>=<name> ...] [--inference-key-file <path>]
                        | --simulate [--rate <tokens/s>])
                       [--job-timeout-ms <ms>] [--ttft-allowance-ms <ms>] [--report-max-bytes <bytes>]
                       [--heartbeat-ms <ms>] [--concurrency <jobs>] [--lease-wait <s>] [--help]
  --inference-url   the OpenAI-compatible API's base; its path is kept and /v1/chat/completions
                    appended (http://h/openai/ → http://h/openai/v1/chat/completions), except that
                    a base already ending in /v1 gets /chat/completions only
                    (http://h:8000/v1 → http://h:8000/v1/chat/completions)
  --job-timeout-ms  one time limit for every inference call; without it a job whose lease names the
                    product's minTokensPerSecond gets --ttft-allowance-ms (default ${DEFAULT_TTFT_ALLOWANCE_MS})
                    + maxTokens / minTokensPerSecond × 2, other jobs ${DEFAULT_INFERENCE_TIMEOUT_MS} ms
  --report-max-bytes  completion reports are cut to stay under this (default ${DEFAULT_REPORT_MAX_BYTES});
                    one the API still refuses as too large (413) is sent in halves
  Keep secrets off the command line (it shows in ps): the node token may come from
  TOKENCLEAR_NODE_TOKEN; the inference server's API key comes from TOKENCLEAR_INFERENCE_KEY or
  from the file named by --inference-key-file (trimmed; the file wins over the variable).`;

export class AgentUsageError extends Error {}

/** `--help`: the usage text, exit 0. */
export class AgentHelp extends Error {}

/** Parses and validates the agent's command line; every mistake names the flag. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string' },
      node: { type: 'string' },
      token: { type: 'string' },
      'inference-url': { type: 'string' },
      // Declared only to refuse it with a useful message (a key on argv shows in ps).
      'inference-key': { type: 'string' },
      'inference-key-file': { type: 'string' },
      'job-timeout-ms': { type: 'string' },
      'ttft-allowance-ms': { type: 'string' },
      'report-max-bytes': { type: 'string' },
      help: { type: 'boolean' },
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
  if (values.help) throw new AgentHelp();
  if (values['inference-key'] !== undefined)
    fail(
      '--inference-key is refused: a key on the command line is visible to every user in ps. Put it in TOKENCLEAR_INFERENCE_KEY or in a file named by --inference-key-file',
    );
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
  const timeoutMs = (flag: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const ms = Number(value);
    if (!Number.isInteger(ms) || ms < 1 || ms > MAX_JOB_TIMEOUT_MS) fail(`${flag} must be a whole number of ms, 1…${MAX_JOB_TIMEOUT_MS}`);
    return ms;
  };
  const timeouts: TimeoutRule = {
    overrideMs: timeoutMs('--job-timeout-ms', values['job-timeout-ms']),
    ttftAllowanceMs: timeoutMs('--ttft-allowance-ms', values['ttft-allowance-ms']) ?? DEFAULT_TTFT_ALLOWANCE_MS,
  };
  const reportMaxBytes = Number(values['report-max-bytes'] ?? DEFAULT_REPORT_MAX_BYTES);
  if (!Number.isInteger(reportMaxBytes) || reportMaxBytes < 1024) fail('--report-max-bytes must be a whole number ≥ 1024');
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
    engine = { kind: 'openai', url, models, apiKey: inferenceKey(values['inference-key-file'], env, fail) };
  }
  return { api, nodeId, token, engine, heartbeatMs, concurrency, leaseWaitSeconds, timeouts, reportMaxBytes };
}

/** The inference server's key: from the file if one is named, else TOKENCLEAR_INFERENCE_KEY, else none. */
function inferenceKey(file: string | undefined, env: NodeJS.ProcessEnv, fail: (m: string) => never): string | undefined {
  if (file === undefined) return env.TOKENCLEAR_INFERENCE_KEY?.trim() || undefined;
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (err) {
    return fail(`--inference-key-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return key || fail(`--inference-key-file ${file} is empty`);
}
