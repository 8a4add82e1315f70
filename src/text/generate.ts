// Autoregressive generation for a batch of prompts, independent of the engine that computes the logits.
import { z } from 'zod';
import type { DecodingGuide } from './guide.js';
import { Sampler, SamplingOptionsSchema } from './sampling.js';
import type { IncrementalDecoder, Tokenizer } from './tokenizer.js';

/** A prompt as token ids (IMAGE_TOKEN_INDEX marks visual slots); an engine extends it with what it needs. */
export interface PromptInput {
  readonly ids: readonly number[];
}

export interface StepInput {
  /** Index of the sequence in the batch given to `prefill`. */
  readonly sequence: number;
  /** The token just chosen for it. */
  readonly token: number;
}

/**
 * The compute engine as generation sees it: a decoder that keeps each sequence's state (its KV cache).
 * Both calls return one row of next-token logits (vocabulary-sized) per sequence, in the order asked.
 */
export interface DecoderStepper<P extends PromptInput = PromptInput> {
  /** Runs the prompts; returns the logits at each prompt's last position. */
  prefill(batch: readonly P[]): Promise<Float32Array[]>;
  /**
   * Appends one token to each listed sequence; returns the logits after it. A sequence missing from a call
   * has finished and will not be stepped again, so the engine may free its state.
   */
  step(batch: readonly StepInput[]): Promise<Float32Array[]>;
  /**
   * The log-probabilities of the next token after each token of each continuation of a running sequence, leaving
   * the sequence as it is. Only guides (./guide.ts) call it; an engine without it cannot run them.
   */
  extend?(sequence: number, continuations: readonly (readonly number[])[]): Promise<Float32Array[][]>;
}

export const GenerationConfigSchema = z.object({
  maxNewTokens: z.number().int().min(1).default(1024),
  /** Text that ends a sequence when it appears in the output; it is cut from the returned text. */
  stop: z.array(z.string().min(1)).default([]),
  /** Ids that end a sequence (not part of the output); default the tokenizer's end of sequence. */
  stopIds: z.array(z.number().int()).optional(),
  /** Sequence i samples with seed + i, so its output does not depend on the other prompts' outputs. */
  sampling: SamplingOptionsSchema.optional(),
});

export type GenerationConfig = z.input<typeof GenerationConfigSchema>;

export interface GenerateOptions extends GenerationConfig {
  tokenizer: Tokenizer;
  /** Receives each sequence's text as it becomes final, in pieces whose concatenation is the result's text. */
  onText?: (sequence: number, delta: string) => void;
  /**
   * Called once the engine has run the prompts (prefill), before the first tokens are chosen: what comes before
   * is time to the first token, what comes after one decoder step per further token. Not called for no prompts.
   */
  onPrefilled?: () => void;
  /** Per prompt, a guide that may choose tokens instead of the sampler (./guide.ts); none where undefined. */
  guides?: readonly (DecodingGuide | undefined)[];
}

export type FinishReason = 'stop' | 'length';

export interface Generation {
  /** Generated ids, without the stop id that ended the sequence. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
}

export async function generate<P extends PromptInput>(
  stepper: DecoderStepper<P>,
  prompts: readonly P[],
  options: GenerateOptions,
): Promise<Generation[]> {
  const config = GenerationConfigSchema.parse(options);
  const { tokenizer, onText } = options;
  const stopIds = new Set(config.stopIds ?? [tokenizer.eosId]);
  const seed = config.sampling?.seed ?? 0;
  const sequences = prompts.map(
    (prompt, i) =>
      new Sequence(
        i,
        prompt.ids,
        new Sampler({ ...config.sampling, seed: seed + i }),
        tokenizer.createDecoder(),
        config.stop,
        onText,
        options.guides?.[i],
      ),
  );
  if (sequences.length === 0) return [];
  const extend = (sequence: number, continuations: readonly (readonly number[])[]): Promise<Float32Array[][]> => {
    if (!stepper.extend) throw new Error('generate: this engine cannot score continuations, which decoding guides need');
    return stepper.extend(sequence, continuations);
  };

  let logits = await stepper.prefill(prompts);
  options.onPrefilled?.();
  let live = sequences;
  for (;;) {
    if (logits.length !== live.length) throw new Error(`the engine returned ${logits.length} logit rows for ${live.length} sequences`);
    const batch: StepInput[] = [];
    for (const [row, sequence] of live.entries()) {
      const token = await sequence.choose(logits[row], extend);
      if (stopIds.has(token)) sequence.finish('stop');
      else {
        sequence.append(token); // may finish it at a stop string
        if (sequence.finishReason === undefined && sequence.ids.length >= config.maxNewTokens) sequence.finish('length');
      }
      if (sequence.finishReason === undefined) batch.push({ sequence: sequence.index, token });
    }
    if (batch.length === 0) break;
    live = batch.map(({ sequence }) => sequences[sequence]);
    logits = await stepper.step(batch);
  }
  return sequences.map(({ ids, text, finishReason }) => ({ ids, text, finishReason: finishReason! }));
}

/** One sequence's output: its ids, its text, and how much of that text has been streamed. */
class Sequence {
  readonly ids: number[] = [];
  readonly history: Set<number>;
  text = '';
  finishReason: FinishReason | undefined;
  private streamed = 0;
  /** Tokens a guide chose that are still to be appended. */
  private forced: number[] = [];

  constructor(
    readonly index: number,
    promptIds: readonly number[],
    readonly sampler: Sampler,
    private readonly decoder: IncrementalDecoder,
    private readonly stops: readonly string[],
    private readonly onText: GenerateOptions['onText'],
    private readonly guide: DecodingGuide | undefined,
  ) {
    this.history = new Set(promptIds);
  }

  /** The next token: one a guide chose, else the sampler's. */
  async choose(logits: Float32Array, extend: (sequence: number, continuations: readonly (readonly number[])[]) => Promise<Float32Array[][]>): Promise<number> {
    if (this.forced.length === 0 && this.guide) {
      const chosen = await this.guide.next({ ids: this.ids, text: this.text, logits, extend: (c) => extend(this.index, c) });
      if (chosen) this.forced = [...chosen];
    }
    return this.forced.shift() ?? this.sampler.next(logits, this.history);
  }

  /** Adds a token; the sequence finishes if it completes a stop string. */
  append(token: number): void {
    this.ids.push(token);
    this.history.add(token);
    this.text += this.decoder.push(token);
    const stop = this.findStop();
    if (stop >= 0) {
      this.text = this.text.slice(0, stop); // what the decoder still buffers lies past the stop: dropped
      this.finishReason = 'stop';
      this.emit(stop);
      return;
    }
    // Hold back an ending that could still grow into a stop string, so it is never streamed.
    this.emit(this.text.length - this.stopPrefixLength());
  }

  /** Ends the sequence at a stop id or at the length limit: buffered bytes and held-back text come out. */
  finish(reason: FinishReason): void {
    this.text += this.decoder.flush();
    this.finishReason = reason;
    this.emit(this.text.length);
  }

  private emit(end: number): void {
    if (end <= this.streamed) return;
    this.onText?.(this.index, this.text.slice(this.streamed, end));
    this.streamed = end;
  }

  /** Earliest start of a stop string; none can start in text already streamed. */
  private findStop(): number {
    let first = -1;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, this.streamed);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }

  /** Length of the longest ending of the text that is the beginning of a stop string. */
  private stopPrefixLength(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.text.length); n > longest; n--) {
        if (this.text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
