// The face data packs (../shared/data/<pack>) for the face expert's tests and bench: an evenly spread sample of a
// split's images, read straight out of the pack's zip through the project's pack reader.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPack, type PackName } from '../../src/data/packs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA_DIR = path.resolve(repoRoot, '../shared/data');

export const packAvailable = (pack: PackName): boolean => existsSync(path.join(DATA_DIR, pack, 'images.zip'));

/** An evenly spread sample of `n` items (all of them when there are fewer), deterministic. */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

/** `n` images spread over a pack's split, as file name → bytes, in labels.csv order. */
export async function samplePack(pack: PackName, split: 'train' | 'val', n: number): Promise<Map<string, Buffer>> {
  const opened = await openPack(pack, path.join(DATA_DIR, pack));
  try {
    const files: string[] = [];
    for await (const row of opened.rows({ split })) files.push(row.file);
    const images = new Map<string, Buffer>();
    for (const file of spread(files, n)) images.set(file, await opened.readImage(file));
    return images;
  } finally {
    await opened.close();
  }
}
