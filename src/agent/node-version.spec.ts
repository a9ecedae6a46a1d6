import { unsupportedNode } from './node-version.js';

describe('agent Node.js version gate', () => {
  it.each(['24.0.0', '24.22.3', 'v26.1.0', '22.12.0', '22.22.3'])('runs on %s', (v) => {
    expect(unsupportedNode(v)).toBeUndefined();
  });
  it.each(['20.20.2', 'v18.19.0', '22.11.9', '23.3.0', '21.7.3'])('refuses %s with a clear message', (v) => {
    expect(unsupportedNode(v)).toMatch(/Node\.js .* is not supported; install Node\.js 24 LTS/);
  });
});
