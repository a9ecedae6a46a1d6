import { AGENT_USAGE, AgentHelp, AgentUsageError, parseAgentArgs, type AgentConfig } from './agent-config.js';
import { NodeAgent, type Log } from './agent.js';
import type { InferenceEngine } from './inference/inference.js';
import { OpenAiChatClient } from './inference/openai-client.js';
import { SimulatedInference } from './inference/simulated.js';

// One JSON object per line on stdout: easy for journald, docker logs and people with jq. The lines
// of one turn of the event loop go out in one write: at thousands of jobs a second (two lines
// each) a write per line was a large part of the agent's CPU. Flushed at exit too.
let pending: string[] = [];
const flush = () => {
  if (pending.length === 0) return;
  const lines = pending.join('');
  pending = [];
  process.stdout.write(lines);
};
process.on('exit', flush);
const log: Log = (level, msg, fields = {}) => {
  if (pending.length === 0) setImmediate(flush);
  pending.push(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

function engineFor(config: AgentConfig): InferenceEngine {
  return config.engine.kind === 'simulate'
    ? new SimulatedInference(config.engine.rate)
    : new OpenAiChatClient({ baseUrl: config.engine.url, models: config.engine.models, apiKey: config.engine.apiKey });
}

let config: AgentConfig;
try {
  config = parseAgentArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof AgentHelp) {
    process.stdout.write(`${AGENT_USAGE}\n`);
    process.exit(0);
  }
  process.stderr.write(`${(err as Error).message}\n${AGENT_USAGE}\n`);
  process.exit(err instanceof AgentUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 64 : 1);
}

const agent = new NodeAgent(config, engineFor(config), log);
if (config.engine.kind === 'simulate') {
  log('warn', `SIMULATING inference: no model is running, answers are generated text at ${config.engine.rate || 'instant'} tokens/s`);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    log('info', `${signal} received: stopping`);
    agent.stop();
  });
}
await agent.run();
process.exit(0);
