// Reading the face data packs (../shared/data/<pack>/images.zip + labels.csv) for the face expert's tests and
// bench: the validation file names from labels.csv, and named entries straight out of the zip (never extracted).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA_DIR = path.resolve(repoRoot, '../shared/data');

export const packAvailable = (pack: string): boolean => existsSync(path.join(DATA_DIR, pack, 'images.zip'));

/** The file names of a pack's split, in labels.csv order (columns `file`, `split` come first). */
export function splitFiles(pack: string, split: 'train' | 'val'): string[] {
  const rows = readFileSync(path.join(DATA_DIR, pack, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
  return rows.map((row) => row.split(',')).filter((cols) => cols[1] === split).map((cols) => cols[0]);
}

/** An evenly spread sample of `n` items (all of them when there are fewer), deterministic. */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

/** Reads the named entries of a pack's images.zip into memory, by name. */
export async function readPackImages(pack: string, names: readonly string[]): Promise<Map<string, Buffer>> {
  const wanted = new Set(names);
  const zip = await yauzl.openPromise(path.join(DATA_DIR, pack, 'images.zip'), { lazyEntries: true, autoClose: false });
  try {
    const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
      const found: yauzl.Entry[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        if (wanted.has(entry.fileName)) found.push(entry);
        zip.readEntry();
      });
      zip.on('end', () => resolve(found));
      zip.on('error', reject);
      zip.readEntry();
    });
    const out = new Map<string, Buffer>();
    for (const entry of entries) {
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      out.set(entry.fileName, Buffer.concat(chunks));
    }
    const missing = names.filter((n) => !out.has(n));
    if (missing.length > 0) throw new Error(`${pack}/images.zip lacks ${missing.slice(0, 3).join(', ')}`);
    return out;
  } finally {
    zip.close();
  }
}
