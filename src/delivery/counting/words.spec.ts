import fc from 'fast-check';
import { simulatedOutput } from '../../agent/inference/simulated.js';
import { loadTokenizer, TOKENIZERS } from './tokenizers.js';
import { MAX_REMEMBERED_WORD, MAX_REMEMBERED_WORDS, WordCounts, words } from './words.js';

// Pieces that stress the pre-tokenizers at a space: letters of several scripts, combining marks,
// CJK (DeepSeek isolates it), digits (1–3 a token or one), contractions, punctuation, the
// whitespace alternatives, and fragments of special tokens.
const PIECES = [
  ' ', ' ', ' ', '  ', '\n', '\t', '\r\n', 'a', 'B', 'token', 'deliver', 'é', 'e\u0301', '\u0301', 'ß', 'Ω', 'я', 'ع',
  '交割', '清算', 'ひらがな', 'カタカナ', '한국', '1', '42', '12345', "'s", "'LL", "n't", '.', ',', '!?', '--', '()', '$',
  '<|', '|>', 'eot_id', '<|eot_id|>', '<|im_end|>', '<｜end▁of▁sentence｜>', '🎉', '\u00a0', '\u3000',
]; // prettier-ignore

const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join(''));

describe('words: a text’s token count is the sum of its words’ counts', () => {
  it.each(TOKENIZERS)('%s: on random text, Σ count(word) = count(text) and the words join back to the text', async (name) => {
    const encoder = await loadTokenizer(name);
    const count = (t: string) => encoder.encode(t).length;
    fc.assert(
      fc.property(text, (t) => {
        const ws = words(t);
        expect(ws.join('')).toBe(t);
        expect(ws.reduce((n, w) => n + count(w), 0)).toBe(count(t));
      }),
      { numRuns: 400 },
    );
  });

  it.each(TOKENIZERS)('%s: also on outputs as the simulated node writes them, and on prose', async (name) => {
    const encoder = await loadTokenizer(name);
    const count = (t: string) => encoder.encode(t).length;
    const prose =
      "The clearing house's meter: it counts 1,234,567 tokens delivered in December — not the node's word. 交割 completed, naïve café, ÅNGSTRÖM.";
    for (const t of [prose, ...Array.from({ length: 50 }, (_, i) => simulatedOutput([{ role: 'user', content: `q ${i}` }], i, 16))]) {
      expect(words(t).reduce((n, w) => n + count(w), 0)).toBe(count(t));
    }
    expect(words(prose).length).toBeGreaterThan(10);
  });

  it('cuts only before a space between letters', () => {
    expect(words('deliver the tokens')).toEqual(['deliver', ' the', ' tokens']);
    expect(words('a  b 1 c, d')).toEqual(['a  b 1 c, d']); // no letter on one side of each space
    expect(words('it is 交割 time')).toEqual(['it', ' is', ' 交割', ' time']);
    expect(words('')).toEqual(['']);
  });
});

describe('WordCounts', () => {
  it('remembers short words, bounded, oldest out first; counts hits and misses', () => {
    const memo = new WordCounts();
    expect(memo.get(' token')).toBeUndefined();
    memo.set(' token', 1);
    expect(memo.get(' token')).toBe(1);
    memo.set('x'.repeat(MAX_REMEMBERED_WORD + 1), 9);
    expect(memo.size).toBe(1);
    for (let i = 0; i < MAX_REMEMBERED_WORDS; i++) memo.set(`w${i}`, 1);
    expect(memo.size).toBe(MAX_REMEMBERED_WORDS);
    expect(memo.get(' token')).toBeUndefined(); // the oldest went first
    expect(memo.get(`w${MAX_REMEMBERED_WORDS - 1}`)).toBe(1);
    expect({ hits: memo.hits, misses: memo.misses }).toEqual({ hits: 2, misses: 2 });
  });
});
