// Next-token selection from a row of logits, in Hugging Face's order: repetition penalty, then temperature,
// top-k and top-p, then a draw from the renormalized distribution with a seeded generator.
import { z } from 'zod';

export const SamplingOptionsSchema = z.object({
  /** 0 selects the argmax (greedy decoding); otherwise logits are divided by it before the softmax. */
  temperature: z.number().min(0).default(0),
  /** Keep only the k highest logits (ties with the k-th included); 0 disables. */
  topK: z.number().int().min(0).default(0),
  /** Keep the smallest set of most probable tokens whose probability reaches p; 1 disables. */
  topP: z.number().gt(0).max(1).default(1),
  /** CTRL penalty on every id already in the sequence: positive logits ÷ it, negative × it; 1 disables. */
  repetitionPenalty: z.number().gt(0).default(1),
  /** Seed of the generator that draws the samples. */
  seed: z.number().int().default(0),
});

export type SamplingOptions = z.infer<typeof SamplingOptionsSchema>;
export type SamplingOptionsInput = z.input<typeof SamplingOptionsSchema>;

/**
 * Face-LLaVA's released inference: `do_sample=True, temperature=0.1` (SPEC §6), which in Hugging Face's
 * `generate` also brings the default `top_k=50`. With it go `max_new_tokens=1024` and stopping at `</s>`.
 */
export const FACE_LLAVA_SAMPLING: SamplingOptionsInput = { temperature: 0.1, topK: 50 };

/** mulberry32: a small, fast 32-bit generator; the same seed gives the same numbers on every platform. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Index of the largest value, the first one on ties (as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Picks next tokens with fixed options and its own generator (one Sampler per sequence for reproducibility). */
export class Sampler {
  readonly options: SamplingOptions;
  private readonly random: () => number;

  constructor(options: SamplingOptionsInput = {}) {
    this.options = SamplingOptionsSchema.parse(options);
    this.random = mulberry32(this.options.seed);
  }

  /**
   * The next token for one sequence. `history` holds the ids the repetition penalty applies to (prompt and
   * generated so far; ids outside the vocabulary, such as image sentinels, are ignored). `logits` is not
   * modified.
   */
  next(logits: Float32Array, history: Iterable<number> = []): number {
    const { temperature, topK, topP, repetitionPenalty } = this.options;
    const scores = repetitionPenalty === 1 ? logits : penalize(logits, history, repetitionPenalty);
    if (temperature === 0) return argmax(scores);

    let candidates = Array.from(scores.keys());
    if (topK > 0 && topK < candidates.length) {
      const kth = Float32Array.from(scores).sort()[scores.length - topK];
      candidates = candidates.filter((id) => scores[id] >= kth);
    }

    // Softmax of scores / temperature over the candidates, shifted by the maximum for stability.
    const max = scores[argmax(scores)];
    let weights = candidates.map((id) => Math.exp((scores[id] - max) / temperature));
    let total = weights.reduce((sum, w) => sum + w, 0);

    if (topP < 1) {
      // Most probable first; a token stays while the probability before it is below p (so the one reaching
      // p stays).
      const order = Array.from(candidates.keys()).sort((a, b) => weights[b] - weights[a]);
      candidates = order.map((i) => candidates[i]);
      weights = order.map((i) => weights[i]);
      let kept = 0;
      let mass = 0;
      while (kept < candidates.length && mass < topP * total) mass += weights[kept++];
      candidates.length = weights.length = kept;
      total = mass;
    }

    let target = this.random() * total;
    for (let i = 0; i < candidates.length; i++) {
      target -= weights[i];
      if (target < 0) return candidates[i];
    }
    return candidates[candidates.length - 1]; // rounding left a sliver of mass
  }
}

function penalize(logits: Float32Array, history: Iterable<number>, penalty: number): Float32Array {
  const scores = Float32Array.from(logits);
  for (const id of history) {
    if (id < 0 || id >= scores.length) continue;
    scores[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
  }
  return scores;
}
