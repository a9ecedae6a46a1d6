import { unsupportedNode } from './node-version.js';

// Checked before anything else loads: an operator on an old Node gets one clear line, exit 69
// (EX_UNAVAILABLE), instead of a stack trace from deep inside a dependency.
const refusal = unsupportedNode(process.versions.node);
if (refusal) {
  process.stderr.write(`${refusal}\n`);
  process.exit(69);
}
await import('./run.js');
