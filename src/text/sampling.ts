// Next-token selection from a row of logits, in Hugging Face's order: repetition penalty, then temperature,
// top-k and top-p, then a draw from the renormalized distribution with a seeded generator.
import { z } from 'zod';
import { mulberry32 } from '../util/random.js';

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

/** Index of the largest value, the first one on ties (as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Power-of-two weight classes top-p sorts its candidates into before it orders the heaviest. */
const BUCKETS = 64;

/** Picks next tokens with fixed options and its own generator (one Sampler per sequence for reproducibility). */
export class Sampler {
  readonly options: SamplingOptions;
  private readonly random: () => number;
  /** Scratch space reused from token to token: candidate ids, their weights, a heap and an order over them. */
  private ids = new Int32Array(0);
  private weights = new Float64Array(0);
  private heap = new Int32Array(0);
  private order = new Int32Array(0);
  private readonly buckets = new Float64Array(BUCKETS);

  constructor(options: SamplingOptionsInput = {}) {
    this.options = SamplingOptionsSchema.parse(options);
    this.random = mulberry32(this.options.seed);
  }

  /**
   * The next token for one sequence. `history` holds the ids the repetition penalty applies to (prompt and
   * generated so far; ids outside the vocabulary, such as image sentinels, are ignored). `logits` is not
   * modified.
   *
   * The work is O(V log k) for top-k and O(V + m log V) for top-p keeping m tokens: no sort of the vocabulary.
   * The draw is exactly that of sorting it (candidates in id order, or by falling probability for top-p, ties in
   * id order; sums taken in that order), so a seed gives the same tokens whichever way they are found.
   */
  next(logits: Float32Array, history: Iterable<number> = []): number {
    const { temperature, topK, topP, repetitionPenalty } = this.options;
    const scores = repetitionPenalty === 1 ? logits : penalize(logits, history, repetitionPenalty);
    if (temperature === 0) return argmax(scores);
    const size = scores.length;
    if (this.ids.length < size) {
      this.ids = new Int32Array(size);
      this.weights = new Float64Array(size);
      this.heap = new Int32Array(size);
      this.order = new Int32Array(size);
    }
    const { ids, weights, order } = this;

    // The candidates in id order: those at or above the k-th highest score (ties with it included), or all.
    let count = 0;
    let max: number;
    if (topK > 0 && topK < size) {
      const best = largest(scores, topK);
      const kth = best[0];
      for (let id = 0; id < size; id++) if (scores[id] >= kth) ids[count++] = id;
      max = kth;
      for (let i = 1; i < topK; i++) if (best[i] > max) max = best[i];
    } else {
      for (let id = 0; id < size; id++) ids[id] = id;
      count = size;
      max = scores[argmax(scores)];
    }

    // Softmax of scores / temperature over the candidates, shifted by the maximum for stability. For top-p, the
    // weights' mass by power of two too: bucket b holds weights in (2^-(b+1), 2^-b], the last all the smaller ones.
    const buckets = topP < 1 ? this.buckets.fill(0) : undefined;
    const perBucket = 1 / (temperature * Math.LN2);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const weight = Math.exp((scores[ids[i]] - max) / temperature);
      weights[i] = weight;
      total += weight;
      if (buckets) buckets[Math.min(BUCKETS - 1, Math.floor((max - scores[ids[i]]) * perBucket))] += weight;
    }

    // The candidates in drawing order: positions 0..count-1, or for top-p the most probable first.
    let kept = count;
    if (topP < 1) {
      // A token stays while the probability before it is below p (so the one reaching p stays). The most probable
      // come off a heap one by one, only as many as p needs. The heap first holds the tokens at or above a weight
      // that the buckets say covers p; the lighter ones only if, rounding aside, that was not enough.
      let bucket = 0;
      for (let covered = buckets![0]; bucket < BUCKETS - 1 && covered < topP * total; ) covered += buckets![++bucket];
      const threshold = bucket < BUCKETS - 1 ? 2 ** -(bucket + 1) : 0;
      let mass = 0;
      kept = 0;
      for (const heavy of [true, false]) {
        let queued = 0;
        for (let i = 0; i < count; i++) if (weights[i] >= threshold === heavy) this.heap[queued++] = i;
        const heap = new CandidateHeap(weights, this.heap, queued);
        while (heap.size > 0 && mass < topP * total) {
          const position = heap.pop();
          order[kept++] = position;
          mass += weights[position];
        }
        if (mass >= topP * total) break;
      }
      total = mass;
    } else {
      for (let i = 0; i < count; i++) order[i] = i;
    }

    let target = this.random() * total;
    for (let i = 0; i < kept; i++) {
      target -= weights[order[i]];
      if (target < 0) return ids[order[i]];
    }
    return ids[order[kept - 1]]; // rounding left a sliver of mass
  }
}

/**
 * The k highest of `values` (k ≥ 1, counted with repeats) as a min-heap: element 0 is the k-th highest. One pass;
 * a value enters only when it beats the heap's least, which after the first few hundred values is rare.
 */
function largest(values: Float32Array, k: number): Float32Array {
  const heap = values.slice(0, k);
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDownMin(heap, i, heap[i]);
  let least = heap[0];
  for (let i = k; i < values.length; i++) {
    const value = values[i];
    if (value > least) {
      siftDownMin(heap, 0, value);
      least = heap[0];
    }
  }
  return heap;
}

/** Places `value` at `i` of a min-heap and sinks it to where it belongs. */
function siftDownMin(heap: Float32Array, i: number, value: number): void {
  const size = heap.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= value) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = value;
}

/**
 * Candidate positions in a binary heap, popped by falling weight and, on equal weights, by rising
 * position: the order of a stable sort by weight, produced lazily.
 */
class CandidateHeap {
  /** Over the positions in heap[0..size), in any order. */
  constructor(
    private readonly weights: Float64Array,
    private readonly heap: Int32Array,
    public size: number,
  ) {
    for (let i = (size >> 1) - 1; i >= 0; i--) this.siftDown(i, heap[i]);
  }

  /** The next position; the heap must not be empty. */
  pop(): number {
    const { heap } = this;
    const top = heap[0];
    const last = heap[--this.size];
    if (this.size > 0) this.siftDown(0, last);
    return top;
  }

  private before(a: number, b: number): boolean {
    const wa = this.weights[a];
    const wb = this.weights[b];
    return wa > wb || (wa === wb && a < b);
  }

  private siftDown(i: number, position: number): void {
    const { heap, size } = this;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(heap[child + 1], heap[child])) child++;
      if (!this.before(heap[child], position)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = position;
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
