import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_USAGE, AgentHelp, AgentUsageError, DEFAULT_REPORT_MAX_BYTES, parseAgentArgs } from './agent-config.js';
import { DEFAULT_TTFT_ALLOWANCE_MS } from './job-timeout.js';

const NODE = '7b1b411a-1b17-4abf-943a-13ffec0ec496';
const base = ['--api', 'http://127.0.0.1:3000', '--node', NODE, '--token', 'tcn_x'];
const real = [...base, '--inference-url', 'http://127.0.0.1:8000/v1'];
const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const engine = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseAgentArgs(argv, env).engine;

describe('parseAgentArgs: the inference key', () => {
  it('comes from TOKENCLEAR_INFERENCE_KEY', () => {
    expect(engine(real, { TOKENCLEAR_INFERENCE_KEY: 'sk-env' })).toMatchObject({ kind: 'openai', apiKey: 'sk-env' });
  });

  it('comes from --inference-key-file, trimmed, and the file wins over the variable', () => {
    const path = file('key', '  sk-file\n');
    expect(engine([...real, '--inference-key-file', path])).toMatchObject({ apiKey: 'sk-file' });
    expect(engine([...real, '--inference-key-file', path], { TOKENCLEAR_INFERENCE_KEY: 'sk-env' })).toMatchObject({ apiKey: 'sk-file' });
  });

  it('is absent when neither is given', () => {
    expect(engine(real)).toMatchObject({ apiKey: undefined });
    expect(engine(real, { TOKENCLEAR_INFERENCE_KEY: '  ' })).toMatchObject({ apiKey: undefined });
  });

  it('is refused on the command line, pointing at the two safe ways, without echoing it', () => {
    for (const argv of [
      [...real, '--inference-key', 'sk-secret'],
      [...real, '--inference-key=sk-secret'],
    ]) {
      const err = (() => {
        try {
          parseAgentArgs(argv, {});
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(AgentUsageError);
      expect(err?.message).toMatch(/--inference-key is refused.*TOKENCLEAR_INFERENCE_KEY.*--inference-key-file/);
      expect(err?.message).not.toContain('sk-secret');
    }
  });

  it('names the file when it cannot be read or is empty', () => {
    expect(() => parseAgentArgs([...real, '--inference-key-file', join(dir, 'missing')], {})).toThrow(
      /--inference-key-file .*missing: cannot read it \(ENOENT\)/,
    );
    expect(() => parseAgentArgs([...real, '--inference-key-file', file('empty', '\n')], {})).toThrow(/is empty/);
  });
});

describe('parseAgentArgs: timeouts, report budget, help', () => {
  it('defaults', () => {
    const c = parseAgentArgs([...base, '--simulate'], {});
    expect(c.timeouts).toEqual({ overrideMs: undefined, ttftAllowanceMs: DEFAULT_TTFT_ALLOWANCE_MS });
    expect(c.reportMaxBytes).toBe(DEFAULT_REPORT_MAX_BYTES);
  });

  it('takes --job-timeout-ms, --ttft-allowance-ms and --report-max-bytes, and refuses nonsense naming the flag', () => {
    const c = parseAgentArgs(
      [...base, '--simulate', '--job-timeout-ms', '900', '--ttft-allowance-ms', '250', '--report-max-bytes', '4096'],
      {},
    );
    expect(c.timeouts).toEqual({ overrideMs: 900, ttftAllowanceMs: 250 });
    expect(c.reportMaxBytes).toBe(4_096);
    expect(() => parseAgentArgs([...base, '--simulate', '--job-timeout-ms', '0'], {})).toThrow(/--job-timeout-ms must be/);
    expect(() => parseAgentArgs([...base, '--simulate', '--ttft-allowance-ms', 'x'], {})).toThrow(/--ttft-allowance-ms must be/);
    expect(() => parseAgentArgs([...base, '--simulate', '--report-max-bytes', '100'], {})).toThrow(/--report-max-bytes must be/);
  });

  it('--help asks for the usage, which documents the new flags, the variables and the URL rule', () => {
    expect(() => parseAgentArgs(['--help'], {})).toThrow(AgentHelp);
    for (const text of [
      '--inference-key-file',
      'TOKENCLEAR_INFERENCE_KEY',
      'TOKENCLEAR_NODE_TOKEN',
      '--job-timeout-ms',
      '--ttft-allowance-ms',
      '--report-max-bytes',
      'http://h/openai/v1/chat/completions',
      'http://h:8000/v1/chat/completions',
    ])
      expect(AGENT_USAGE).toContain(text);
  });
});
