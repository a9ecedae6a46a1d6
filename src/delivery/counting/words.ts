/**
 * Where a text may be cut so that its token count is the sum of its pieces' counts, in every
 * tokenizer the clearing house counts with: before a single space that has a letter on each side
 * ("deliver tokens" → "deliver" | " tokens").
 *
 * Why that holds: the three are byte-level BPE tokenizers that split text into pre-tokens first
 * and encode each pre-token on its own. All three pre-tokenizers end a run of letters at a space
 * and start the next pre-token with " " + letters; no special token contains whitespace, so none
 * spans the cut; Qwen's NFC normalization never composes across a space. So a piece's tokens are
 * exactly the whole text's tokens over that piece. src/delivery/counting/words.spec.ts checks it
 * against the tokenizers themselves on random text (letters, marks, CJK, digits, punctuation,
 * whitespace, special-token fragments).
 */
const WORD_BOUNDARY = /(?<=\p{L})(?= \p{L})/u;

export function words(text: string): string[] {
  return text.split(WORD_BOUNDARY);
}

/** Words longer than this are counted every time: they are rarely seen twice. */
export const MAX_REMEMBERED_WORD = 48;
/** Words remembered per tokenizer; the oldest goes first once full (~5 MB a tokenizer). */
export const MAX_REMEMBERED_WORDS = 100_000;

/**
 * Token counts of words already counted, per tokenizer: text repeats its words (Zipf), so most of
 * an output's words were counted before. A count never changes, so a remembered one is exact; the
 * memory is bounded, and a node that sends only unseen words costs what counting cost without it.
 */
export class WordCounts {
  private readonly counts = new Map<string, number>();
  hits = 0;
  misses = 0;

  get(word: string): number | undefined {
    const n = this.counts.get(word);
    if (n === undefined) this.misses++;
    else this.hits++;
    return n;
  }

  set(word: string, n: number): void {
    if (word.length > MAX_REMEMBERED_WORD || this.counts.has(word)) return;
    if (this.counts.size >= MAX_REMEMBERED_WORDS) this.counts.delete(this.counts.keys().next().value!);
    this.counts.set(word, n);
  }

  get size(): number {
    return this.counts.size;
  }
}
