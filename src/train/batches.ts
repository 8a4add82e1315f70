// The order in which examples are seen: a pure function of the seed, the epoch and the examples' lengths, so a
// resumed run rebuilds the same order and continues at the recorded step.
//
// Sequences are right-padded to the longest of their micro-batch; to waste little padding, each epoch shuffles the
// examples, sorts windows of BUCKET_WINDOW micro-batches by length, cuts the windows into micro-batches of similar
// length, then shuffles the micro-batches (so the long ones are spread over the epoch) and groups them into steps.
import { seededRandom, shuffleInPlace } from '../util/random.js';

/** One optimizer update: its micro-batches, each a list of example indices. */
export type Step = number[][];

export interface BatchOptions {
  /** Examples per micro-batch. */
  batch: number;
  /** Micro-batches per step (gradient accumulation). */
  accum: number;
  seed: number;
}

/** Micro-batches per length-sorted window. */
const BUCKET_WINDOW = 16;

/** The steps of one epoch; the last micro-batch and the last step may be short. */
export function epochSteps(lengths: readonly number[], epoch: number, o: BatchOptions): Step[] {
  const random = seededRandom(o.seed, epoch);
  const order = shuffleInPlace([...lengths.keys()], random);
  const window = o.batch * BUCKET_WINDOW;
  const micro: number[][] = [];
  for (let start = 0; start < order.length; start += window) {
    // Longest first within a window; ties keep the shuffled order (Array.prototype.sort is stable).
    const sorted = order.slice(start, start + window).sort((a, b) => lengths[b] - lengths[a]);
    for (let i = 0; i < sorted.length; i += o.batch) micro.push(sorted.slice(i, i + o.batch));
  }
  shuffleInPlace(micro, random);
  const steps: Step[] = [];
  for (let i = 0; i < micro.length; i += o.accum) steps.push(micro.slice(i, i + o.accum));
  return steps;
}

/** Steps in an epoch of `examples` examples. */
export function stepsPerEpoch(examples: number, o: Pick<BatchOptions, 'batch' | 'accum'>): number {
  return Math.ceil(Math.ceil(examples / o.batch) / o.accum);
}
