// The agent runs on operators' own machines, where an old Node may be the default. Its
// dependencies' engine ranges and the runtime features it uses (global fetch with
// AbortSignal.any, util.parseArgs) hold from these releases on.
export const AGENT_MIN_NODE = { 22: '22.12.0', 24: '24.0.0' } as const;

const parse = (v: string): number[] =>
  v
    .replace(/^v/, '')
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0);

function atLeast(version: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i += 1) {
    if ((version[i] ?? 0) !== (min[i] ?? 0)) return (version[i] ?? 0) > (min[i] ?? 0);
  }
  return true;
}

/** Why this Node cannot run the agent, or undefined when it can. */
export function unsupportedNode(version: string): string | undefined {
  const v = parse(version);
  const major = v[0];
  if (major >= 24) return undefined;
  if (major === 22 && atLeast(v, parse(AGENT_MIN_NODE[22]))) return undefined;
  return (
    `tokenclear agent: Node.js ${version.replace(/^v/, '')} is not supported; ` +
    `install Node.js 24 LTS (or 22 from ${AGENT_MIN_NODE[22]}) and run the agent again`
  );
}
