// Which source rows a build reads, and in what order. Sources are read round-robin (so that a build over several
// sources samples every one), each in its file's order. Three settings narrow the rows down, each a pure function
// of the row, so a resumed build or a build spread over `--part`s selects exactly the same rows:
//
// - `split`: only the rows `assignSplit` puts in that split — the source's own split column, by subject where the
//   source names subjects (CK+), by file where it has neither. Malformed rows, whose split cannot be known, are
//   kept, so that every build reports them.
// - `limit`: a sample of that many rows, spread over each source instead of its first rows (the first 3,291
//   FER2013 rows are all `val`; the first realorfake rows are all `fake`). Each source gets the share round-robin
//   reading would deal it (equal shares; what a small source cannot use goes to the others), and within a source
//   the rows whose seeded hash of the row id ranks lowest. That takes two passes over the label files: the first
//   keeps, per source, only the `limit` smallest hashes (8 bytes each, never the rows), which fix a cut-off; the
//   second streams the rows under it. The sample is a hash sample, so it has each source's label and split balance
//   up to sampling noise, and a larger limit's sample contains a smaller one's (another order, though: a build
//   cannot be resumed with another limit).
// - `part`: of the rows selected, those whose id hashes to part K of N (`inPart`). The limit applies to the whole
//   build, before the parts: parts 0…N−1 of `--limit 300` together hold the 300 rows of one `--limit 300` build.
import { createHash } from 'node:crypto';
import type { Source, SourceEvent } from './sources.js';
import { assignSplit, inPart, type SplitName } from './splits.js';

export interface RowSelection {
  /** Only rows of this split (see the top of this file). */
  split?: SplitName;
  /** The val share of `assignSplit`. */
  valFraction: number;
  /** A spread sample of this many rows, across all parts. */
  limit?: number;
  /** Seeds the sample. */
  seed: string;
  part: { index: number; count: number };
}

export interface SelectedRows {
  /** The selected rows of this part, in build order. */
  events: AsyncIterable<SourceEvent>;
  /** Whether the limit left rows out. */
  limited: boolean;
}

export const eventId = (event: SourceEvent): string => ('item' in event ? event.item.id : event.issue.id);

/** The rank of a row in the limit's sample: 48 bits of a seeded hash of its id (exact in a double). */
export function sampleKey(seed: string, id: string): number {
  return createHash('sha256').update(`sample\0${seed}\0${id}`).digest().readUIntLE(0, 6);
}

/** Round-robin over several event streams, so that every source is read from the start. */
export async function* interleave(streams: readonly AsyncIterable<SourceEvent>[]): AsyncGenerator<SourceEvent> {
  const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
  while (iterators.length > 0) {
    for (let i = 0; i < iterators.length; ) {
      const next = await iterators[i].next();
      if (next.done) iterators.splice(i, 1);
      else {
        yield next.value;
        i++;
      }
    }
  }
}

/**
 * Each source's share of `limit` rows, as round-robin reading of sources with `counts` rows deals it: one row per
 * source in turn, a source that runs out dropping out of the round.
 */
export function dealLimit(counts: readonly number[], limit: number): number[] {
  const shares = counts.map(() => 0);
  let left = limit;
  let active = counts.map((_, i) => i).filter((i) => counts[i] > 0);
  while (left > 0 && active.length > 0) {
    const step = Math.min(Math.floor(left / active.length), ...active.map((i) => counts[i] - shares[i]));
    if (step === 0) {
      // A last, partial round: one more row each for the first sources in turn.
      for (const i of active.slice(0, left)) shares[i]++;
      break;
    }
    for (const i of active) shares[i] += step;
    left -= step * active.length;
    active = active.filter((i) => shares[i] < counts[i]);
  }
  return shares;
}

/** The `capacity` smallest numbers pushed (a bounded max-heap). */
class SmallestKeys {
  private readonly heap: number[] = [];
  constructor(private readonly capacity: number) {}

  push(key: number): void {
    const heap = this.heap;
    if (heap.length < this.capacity) {
      heap.push(key);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (heap[parent] >= heap[i]) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
    } else if (this.capacity > 0 && key < heap[0]) {
      heap[0] = key;
      for (let i = 0; ; ) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let largest = i;
        if (l < heap.length && heap[l] > heap[largest]) largest = l;
        if (r < heap.length && heap[r] > heap[largest]) largest = r;
        if (largest === i) break;
        [heap[largest], heap[i]] = [heap[i], heap[largest]];
        i = largest;
      }
    }
  }

  sorted(): number[] {
    return this.heap.slice().sort((a, b) => a - b);
  }
}

/** Rows of a source taken by the limit: keys below `key`, then the first `ties` rows whose key equals it. */
interface Cutoff {
  all: boolean;
  key: number;
  ties: number;
}

async function* sourceRows(source: Source, keep: (event: SourceEvent) => boolean, cutoff: Cutoff, seed: string): AsyncGenerator<SourceEvent> {
  let ties = cutoff.ties;
  for await (const event of source.events()) {
    if (!keep(event)) continue;
    if (!cutoff.all) {
      const key = sampleKey(seed, eventId(event));
      if (key > cutoff.key) continue;
      if (key === cutoff.key) {
        if (ties === 0) continue;
        ties--;
      }
    }
    yield event;
  }
}

/** The rows a build with `selection` reads from `sources` (see the top of this file). Sources must be re-readable. */
export async function selectRows(sources: readonly Source[], selection: RowSelection): Promise<SelectedRows> {
  const { split, valFraction, limit, seed, part } = selection;
  const keep = (event: SourceEvent): boolean => split === undefined || 'issue' in event || assignSplit(event.item, valFraction) === split;
  let cutoffs: Cutoff[] = sources.map(() => ({ all: true, key: 0, ties: 0 }));
  let limited = false;
  if (limit !== undefined) {
    const counts: number[] = [];
    const smallest: SmallestKeys[] = [];
    for (const source of sources) {
      const keys = new SmallestKeys(limit);
      let count = 0;
      for await (const event of source.events()) {
        if (!keep(event)) continue;
        count++;
        keys.push(sampleKey(seed, eventId(event)));
      }
      counts.push(count);
      smallest.push(keys);
    }
    const shares = dealLimit(counts, limit);
    limited = shares.some((share, i) => share < counts[i]);
    cutoffs = shares.map((share, i) => {
      if (share === counts[i]) return { all: true, key: 0, ties: 0 };
      if (share === 0) return { all: false, key: -1, ties: 0 };
      const keys = smallest[i].sorted();
      const key = keys[share - 1];
      return { all: false, key, ties: share - keys.indexOf(key) };
    });
  }
  async function* events(): AsyncGenerator<SourceEvent> {
    for await (const event of interleave(sources.map((source, i) => sourceRows(source, keep, cutoffs[i], seed)))) {
      if (inPart(eventId(event), part.index, part.count)) yield event;
    }
  }
  return { events: events(), limited };
}
