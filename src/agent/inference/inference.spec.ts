import { describe, expect, it } from 'vitest';
import { InferenceError } from './inference.js';

describe('who caused an inference failure', () => {
  it('a 4xx for the prompt is the request’s; 408, 429, 5xx, timeouts and transport trouble are the operator’s', () => {
    expect(new InferenceError('HTTP', 'bad request', 400).fault).toBe('REQUEST');
    expect(new InferenceError('HTTP', 'too large', 413).fault).toBe('REQUEST');
    for (const s of [408, 429, 500, 503]) expect(new InferenceError('HTTP', 'x', s).fault).toBe('OPERATOR');
    expect(new InferenceError('TIMEOUT', 'slow').fault).toBe('OPERATOR');
    expect(new InferenceError('CONNECTION', 'refused').fault).toBe('OPERATOR');
    expect(new InferenceError('BAD_RESPONSE', 'junk').fault).toBe('OPERATOR');
  });
});
