import { readFileSync } from 'node:fs';
import llamaTokenizerJs from 'llama-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { llamaTokenizer } from '../src/text/tokenizer.js';

const tokenizer = llamaTokenizer();

/** Feeds ids one at a time; returns what each push produced, then the flush. */
function stream(ids: readonly number[]): string[] {
  const decoder = tokenizer.createDecoder();
  return [...ids.map((id) => decoder.push(id)), decoder.flush()];
}

describe('LlamaTokenizer ids', () => {
  it('has the Vicuna vocabulary and special ids', () => {
    expect(tokenizer.vocabSize).toBe(32000);
    expect([tokenizer.unkId, tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([0, 1, 2, 0]);
    expect([0, 1, 2, 3, 13, 258, 259, 29871].map((id) => tokenizer.tokenToString(id))).toEqual([
      '<unk>', '<s>', '</s>', '<0x00>', '<0x0A>', '<0xFF>', '▁▁', '▁',
    ]);
    expect([0, 1, 2, 3].map((id) => tokenizer.isSpecial(id))).toEqual([true, true, true, false]);
    expect(() => tokenizer.tokenToString(32000)).toThrow(RangeError);
  });

  // Reference ids of the original LLaMA tokenizer (the test vectors that ship with llama-tokenizer-js).
  it.each([
    ['Hello world', [1, 15043, 3186]],
    ['grabbed', [1, 2646, 1327, 287]],
    [' grabbed', [1, 29871, 2646, 1327, 287]],
    ['           grabbed', [1, 9651, 2646, 1327, 287]],
    ['\n', [1, 29871, 13]],
    [' \n', [1, 259, 13]],
    ['\ttabs\t\t\t\tout here', [1, 29871, 12, 21175, 12, 12, 12, 12, 449, 1244]],
    ['ax\n####\nboo', [1, 4853, 13, 4136, 13, 833, 29877]],
    ['镇', [1, 29871, 30411]],
    ['🦙', [1, 29871, 243, 162, 169, 156]],
    ['🦙Ꙋ', [1, 29871, 243, 162, 169, 156, 237, 156, 141]],
    ['Ꙋ🦙', [1, 29871, 237, 156, 141, 243, 162, 169, 156]],
  ])('encodes %j as LLaMA does', (text, ids) => {
    expect(tokenizer.encode(text)).toEqual(ids);
  });

  it('encodes the empty text as the beginning of sequence only, as Hugging Face does', () => {
    expect(tokenizer.encode('')).toEqual([1]);
    expect(tokenizer.encode('', { bos: false })).toEqual([]);
  });

  it('maps special-token strings to their ids, each following chunk with its own "▁"', () => {
    // "</s>USER" → [2, ▁US, ER]: the legacy slow-tokenizer behaviour LLaVA's label masking counts on.
    expect(tokenizer.encode('answer</s>USER:')).toEqual([1, 1234, 2, 3148, 1001, 29901]);
    expect(tokenizer.encode('<s>hi<unk>', { bos: false })).toEqual([1, 7251, 0]);
    // With specials off the string is plain text: "▁</", "s", ">".
    expect(tokenizer.encode('</s>', { bos: false, specials: false })).toEqual(llamaTokenizerJs.encode('</s>', false));
  });

  it('gives the same ids as llama-tokenizer-js on a corpus of real text', () => {
    const corpus = readFileSync(new URL('../node_modules/llama-tokenizer-js/README.md', import.meta.url), 'utf8');
    for (const line of corpus.split('\n').filter((l) => l.length > 0)) {
      expect(tokenizer.encode(line, { specials: false })).toEqual(llamaTokenizerJs.encode(line));
    }
  });

  it('gives the same ids as llama-tokenizer-js on random mixtures of words, spaces, emoji and CJK', () => {
    const parts = ['the', 'expression', 'grabbed', 'aaaa', 'ssss', 'tion', ' ', '   ', '\n', '\t', '😀', '镇', '뷁', 'é', '7', '2024'];
    let state = 12345;
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 2000; trial++) {
      let text = '';
      for (let k = 0; k < 1 + Math.floor(random() * 10); k++) text += parts[Math.floor(random() * parts.length)];
      expect(tokenizer.encode(text)).toEqual(llamaTokenizerJs.encode(text));
    }
  });

  it('merges runs of spaces last and left to right (whitespace pieces share the lowest score)', () => {
    // 20 spaces + the "▁" prefix = 21 "▁": the leftmost 16 become the longest whitespace piece, then 4, and
    // the last "▁" joins the word.
    const ids = tokenizer.encode(' '.repeat(20) + 'ok', { bos: false });
    expect(ids.map((id) => tokenizer.tokenToString(id))).toEqual(['▁'.repeat(16), '▁▁▁▁', '▁ok']);
  });
});

describe('LlamaTokenizer decoding', () => {
  it.each([
    'Hello world',
    ' leading space',
    '  two leading spaces',
    'trailing space ',
    'line one\nline two\n\n',
    '\n starts with a newline',
    'tabs\tand\r\ncarriage returns',
    'emoji 😀🦙👩‍👩‍👧 and flags 🇫🇷',
    '中文文本 and 日本語のテキスト, 한국어',
    'accents: café, naïve, e\u0301 (combining), ẞ',
    '',
  ])('round-trips %j', (text) => {
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.decode(tokenizer.encode(text, { bos: false }))).toBe(text);
  });

  it('renders special tokens on request, and drops the "▁" each chunk after one got', () => {
    const ids = tokenizer.encode('The answer.</s>USER: next');
    expect(tokenizer.decode(ids)).toBe('The answer.USER: next');
    expect(tokenizer.decode(ids, { skipSpecial: false })).toBe('<s>The answer.</s>USER: next');
  });

  it('turns unfinished UTF-8 into U+FFFD only at the end', () => {
    expect(tokenizer.decode([243, 162])).toBe('\uFFFD');
    expect(tokenizer.decode([243, 162, 15043])).toBe('\uFFFD Hello');
  });
});

describe('incremental decoder', () => {
  it('holds byte pieces back until the character is complete', () => {
    const ids = tokenizer.encode('ok 😀!', { bos: false });
    expect(ids.map((id) => tokenizer.tokenToString(id))).toEqual(['▁ok', '▁', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>', '!']);
    expect(stream(ids)).toEqual(['ok', ' ', '', '', '', '😀', '!', '']);
  });

  it('applies the SentencePiece leading-space rule to the first piece only', () => {
    expect(stream(tokenizer.encode('Hello world', { bos: false }))).toEqual(['Hello', ' world', '']);
    expect(stream(tokenizer.encode(' Hello', { bos: false }))).toEqual(['', ' Hello', '']);
    // After the beginning of sequence (skipped) the next piece still starts the text.
    expect(stream([1, 15043])).toEqual(['', 'Hello', '']);
  });

  it('streams exactly what decode returns, for multi-byte text of every kind', () => {
    const text = 'Ꙋ🦙 mixed 中文, 한국어 and 👩‍👩‍👧\n done';
    const ids = tokenizer.encode(text);
    const pieces = stream(ids);
    expect(pieces.join('')).toBe(text);
    expect(pieces.every((piece) => !piece.includes('\uFFFD'))).toBe(true);
  });
});
