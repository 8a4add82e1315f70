// Which split a sample goes to. Where the source names subjects (CK+, a user's `subject` column), the split is
// drawn per subject, so that no person appears in two splits (CK+ frames of one sequence are near-duplicates).
// Otherwise the source's own split is kept, and a source without one is split per file. Draws hash the name, so
// the split of a subject or file is the same in every build, whatever the seed, order or machine.
import { createHash } from 'node:crypto';
import type { FaceInstructRecord } from './types.js';
import type { SourceItem } from './sources.js';

/** A number in [0, 1) fixed by the text. */
function unit(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0) / 2 ** 32;
}

export function assignSplit(item: SourceItem, valFraction: number): FaceInstructRecord['split'] {
  if (item.subject !== undefined) return unit(`subject\0${item.source}\0${item.subject}`) < valFraction ? 'val' : 'train';
  if (item.split === 'train' || item.split === 'val' || item.split === 'test') return item.split;
  return unit(`file\0${item.id}`) < valFraction ? 'val' : 'train';
}

/** Whether an id belongs to part `index` of `count` (machines, processes): a fixed hash of the id, mod count. */
export function inPart(id: string, index: number, count: number): boolean {
  return count <= 1 || createHash('sha256').update(`part\0${id}`).digest().readUInt32LE(0) % count === index;
}
