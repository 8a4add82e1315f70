// How much of each data source an epoch holds. FaceInstruct sources differ by two orders of magnitude (FER2013 has
// 26k training faces, the real/fake pack 476): trained in proportion, the small tasks are ~1 % of the updates and
// the model never learns to route their instructions. As in T5's examples-proportional mixing with a limit
// (Raffel et al. 2020, §3.5.2), each source's share is its size clamped — here from both sides:
//
//   quota_s = clamp(n_s, min, max)        (examples of source s per epoch)
//
// A source above `max` contributes a fresh seeded subset each epoch (so several epochs still see all of it); one
// below `min` is repeated whole ⌊quota/n⌋ times plus a seeded subset for the rest. Without limits an epoch is every
// example once, exactly the order the trainer used before mixing existed.
import { seededRandom, shuffleInPlace } from '../util/random.js';

export interface MixOptions {
  /** Fewer examples of a source are repeated up to this many per epoch. */
  min?: number;
  /** More examples of a source are subsampled to this many per epoch. */
  max?: number;
}

/** Examples of a source of `count` per epoch. */
export function sourceQuota(count: number, o: MixOptions): number {
  if (count === 0) return 0;
  return Math.max(Math.min(count, o.max ?? Infinity), o.min ?? 0);
}

/** Examples in one epoch of sources with these counts. */
export function epochSize(counts: readonly number[], o: MixOptions): number {
  return counts.reduce((n, c) => n + sourceQuota(c, o), 0);
}

/** The example counts of each source, from the source index of every example. */
export function sourceCounts(sources: readonly number[]): number[] {
  const counts: number[] = [];
  for (const s of sources) counts[s] = (counts[s] ?? 0) + 1;
  return Array.from(counts, (c) => c ?? 0);
}

/**
 * The examples of one epoch (indices into the examples, repeats allowed), grouped by source in source order; the
 * data order (batches.ts) shuffles them. A pure function of the sources, the seed and the epoch.
 */
export function epochPool(sources: readonly number[], epoch: number, seed: number, o: MixOptions): number[] {
  const members: number[][] = [];
  sources.forEach((s, i) => (members[s] ??= []).push(i));
  if (o.min === undefined && o.max === undefined) return [...sources.keys()];
  const pool: number[] = [];
  members.forEach((indices, s) => {
    if (!indices?.length) return;
    // The stream differs from the data order's (seededRandom(seed, epoch)) and from every other source's.
    const random = seededRandom(seed, 0x10000 + epoch * 4096 + s);
    const quota = sourceQuota(indices.length, o);
    for (let k = 0; k + indices.length <= quota; k += indices.length) pool.push(...indices);
    pool.push(...shuffleInPlace([...indices], random).slice(0, quota % indices.length));
  });
  return pool;
}

/** `--source-min` / `--source-max` as settings: both whole numbers ≥ 1, min ≤ max. */
export function checkMix(o: MixOptions): void {
  for (const [name, v] of Object.entries(o)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`source ${name} must be a whole number ≥ 1, got ${v}`);
  }
  if (o.min !== undefined && o.max !== undefined && o.min > o.max) throw new Error(`source min (${o.min}) is above source max (${o.max})`);
}
