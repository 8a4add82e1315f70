// Which split a sample goes to. Where the source names subjects (CK+, a user's `subject` column), the split is
// drawn per subject, so that no person appears in two splits (CK+ frames of one sequence are near-duplicates;
// CK+'s own split column is all `train`). Otherwise the source's own split is kept, and a source without one is
// split per file. Draws hash the name, so the split of a subject or file is the same in every build, whatever the
// seed, order or machine. The builder (`data build`, its records' `split` and `--split`) and the evaluator
// (`eval --split`) both call `assignSplit`, so an evaluation split never holds a subject or file trained on.
import { createHash } from 'node:crypto';
import type { FaceInstructRecord } from './types.js';
import type { SourceItem } from './sources.js';

export type SplitName = FaceInstructRecord['split'];
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

/** The share of subjects (or of files, for sources with neither subjects nor splits) assigned to `val`. */
export const DEFAULT_VAL_FRACTION = 0.1;

/** How a sample's split is decided: a hash of its subject, the source's own split, or a hash of its file. */
export type SplitBasis = 'subject' | 'source' | 'file';

/** A number in [0, 1) fixed by the text. */
function unit(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0) / 2 ** 32;
}

export function splitBasis(item: Pick<SourceItem, 'split' | 'subject'>): SplitBasis {
  if (item.subject !== undefined) return 'subject';
  return item.split !== undefined && (SPLIT_NAMES as readonly string[]).includes(item.split) ? 'source' : 'file';
}

export function assignSplit(item: Pick<SourceItem, 'id' | 'source' | 'split' | 'subject'>, valFraction: number): SplitName {
  switch (splitBasis(item)) {
    case 'subject':
      return unit(`subject\0${item.source}\0${item.subject}`) < valFraction ? 'val' : 'train';
    case 'source':
      return item.split as SplitName;
    case 'file':
      return unit(`file\0${item.id}`) < valFraction ? 'val' : 'train';
  }
}

/** Whether an id belongs to part `index` of `count` (machines, processes): a fixed hash of the id, mod count. */
export function inPart(id: string, index: number, count: number): boolean {
  return count <= 1 || createHash('sha256').update(`part\0${id}`).digest().readUInt32LE(0) % count === index;
}
