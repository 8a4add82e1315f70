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
//
// With `balanceLabels`, a source whose examples all carry one class label (expression, real/fake) spreads its quota
// equally over its labels, each label's examples repeated or subsampled as above: class-balanced sampling, so a 3:1
// real/fake source does not teach the decoder the prior alone.
import { seededRandom, shuffleInPlace } from '../util/random.js';

export interface MixOptions {
  /** Fewer examples of a source are repeated up to this many per epoch. */
  min?: number;
  /** More examples of a source are subsampled to this many per epoch. */
  max?: number;
  /** Spread each single-label source's quota equally over its labels. */
  balanceLabels?: boolean;
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
export function epochPool(sources: readonly number[], epoch: number, seed: number, o: MixOptions, labels?: readonly (string | undefined)[]): number[] {
  if (o.min === undefined && o.max === undefined && !o.balanceLabels) return [...sources.keys()];
  const members: number[][] = [];
  sources.forEach((s, i) => (members[s] ??= []).push(i));
  const pool: number[] = [];
  members.forEach((indices, s) => {
    if (!indices?.length) return;
    // The stream differs from the data order's (seededRandom(seed, epoch)) and from every other source's.
    const random = seededRandom(seed, 0x10000 + epoch * 4096 + s);
    const quota = sourceQuota(indices.length, o);
    const groups = o.balanceLabels && labels ? byLabel(indices, labels) : null;
    if (!groups) take(pool, indices, quota, random);
    else groups.forEach((group, g) => take(pool, group, Math.floor(quota / groups.length) + (g < quota % groups.length ? 1 : 0), random));
  });
  return pool;
}

/**
 * Appends `quota` of `indices` to `out`: all of them ⌊quota/n⌋ times, then a seeded subset for the rest. (Element by
 * element: spreading a source of 100k+ examples into push() would overflow the call's argument limit.)
 */
function take(out: number[], indices: readonly number[], quota: number, random: () => number): void {
  for (let k = 0; k + indices.length <= quota; k += indices.length) for (const i of indices) out.push(i);
  for (const i of shuffleInPlace([...indices], random).slice(0, quota % indices.length)) out.push(i);
}

/** The indices grouped by label, labels sorted; null when some example has no single label. */
function byLabel(indices: readonly number[], labels: readonly (string | undefined)[]): number[][] | null {
  const groups = new Map<string, number[]>();
  for (const i of indices) {
    const label = labels[i];
    if (label === undefined) return null;
    const group = groups.get(label);
    if (group) group.push(i);
    else groups.set(label, [i]);
  }
  return [...groups.keys()].sort().map((label) => groups.get(label)!);
}

/** `--source-min` / `--source-max` as settings: both whole numbers ≥ 1, min ≤ max. */
export function checkMix(o: MixOptions): void {
  for (const [name, v] of Object.entries({ min: o.min, max: o.max })) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`source ${name} must be a whole number ≥ 1, got ${v}`);
  }
  if (o.min !== undefined && o.max !== undefined && o.min > o.max) throw new Error(`source min (${o.min}) is above source max (${o.max})`);
}
