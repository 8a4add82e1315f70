// μ and σ of the encoder's channels over the training crops, for a model with `standardize_tokens`
// (model/token-norm.ts), read from the feature cache: the crops are encoded once, for training, anyway.
import type { HostTensor } from '../graph/host.js';
import { TokenStatistics } from '../model/token-norm.js';
import type { FrameRef } from './data.js';
import { type FeatureStore, frameName } from './features.js';

/** Crops the statistics of a run from scratch are measured on: ±1 % of σ from 200,000 tokens, read in seconds. */
export const TOKEN_STATS_SAMPLE = 4096;

/** Crops read per cache read. */
const READ_CHUNK = 64;

/**
 * The distinct frames among `frames`, or `sample` of them spread evenly over the frames sorted by name: the same
 * sample whatever order the data came in.
 */
export function pickFrames(frames: Iterable<FrameRef>, sample?: number): FrameRef[] {
  const distinct = new Map<string, FrameRef>();
  for (const f of frames) distinct.set(frameName(f), f);
  const sorted = [...distinct.keys()].sort().map((k) => distinct.get(k)!);
  const n = sample === undefined ? sorted.length : Math.min(sample, sorted.length);
  return Array.from({ length: n }, (_, i) => sorted[Math.floor((i * sorted.length) / n)]);
}

/** μ and σ [C] of every token of `frames`, which the store must have `ensure`d. */
export async function measureTokenStatistics(store: FeatureStore, frames: readonly FrameRef[]): Promise<{ mean: HostTensor; std: HostTensor; frames: number }> {
  if (frames.length === 0) throw new Error('token statistics: no frames to measure');
  const stats = new TokenStatistics(store.extractor.width);
  for (let i = 0; i < frames.length; i += READ_CHUNK) stats.add((await store.read(frames.slice(i, i + READ_CHUNK))).data as Float32Array);
  return { ...stats.result(), frames: frames.length };
}
