import { countCompletionTokens, countPromptTokens, FRAMING_TOKENS_PER_MESSAGE, REPLY_PRIMER_TOKENS } from './chat-template.js';
import { loadTokenizer, TOKENIZERS, tokenizerFor } from './tokenizers.js';

describe('pinned tokenizers, offline', () => {
  it.each(TOKENIZERS)('%s loads from its package and counts mixed Chinese/English text', async (name) => {
    const enc = await loadTokenizer(name);
    const n = countCompletionTokens(enc, '结算所在每个交易日收盘后计算 variation margin。Hello, world!');
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThan(40);
    expect(await loadTokenizer(name)).toBe(enc); // one instance per process
  });

  it('model classes default as SPEC §6.1 says; a product may pin another', () => {
    expect(tokenizerFor('llm-8b-instruct')).toBe('qwen3');
    expect(tokenizerFor('llm-70b-instruct')).toBe('llama3');
    expect(tokenizerFor('llm-400b-moe')).toBe('deepseek-v3');
    expect(tokenizerFor('llm-70b-instruct', 'qwen3')).toBe('qwen3');
  });

  it('prompt = role + content tokens + framing per message + reply primer', async () => {
    const enc = await loadTokenizer('llama3');
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hi' },
    ];
    const expected =
      messages.reduce((n, m) => n + enc.encode(m.role).length + enc.encode(m.content).length + FRAMING_TOKENS_PER_MESSAGE, 0) +
      REPLY_PRIMER_TOKENS;
    expect(countPromptTokens(enc, messages)).toBe(expected);
    expect(countCompletionTokens(enc, '')).toBe(0);
  });
});
