// Augmented views of training images (data build --augment): the transforms, their determinism, which rows get
// views, and a build that writes them as samples of their own.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentImage, augmentPolicy, augmentedId, withAugmentedViews, type AugmentPolicy } from '../src/data/build/augment.js';
import { rngFor } from '../src/data/build/random.js';
import type { SourceEvent, SourceItem } from '../src/data/build/sources.js';
import { buildFaceInstruct, type FaceInstructRecord } from '../src/data/faceinstruct.js';
import { OfflineAnnotator } from '../src/data/annotators/offline.js';

const DATA = resolve('../shared/data');
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'augment-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A 64×48 picture whose left half is red and right half blue, with a white square top left. */
async function asymmetric(): Promise<Buffer> {
  const [w, h] = [64, 48];
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const square = x < 12 && y < 12;
      rgb[i] = square || x < w / 2 ? 255 : 0;
      rgb[i + 1] = square ? 255 : 0;
      rgb[i + 2] = square || x >= w / 2 ? 255 : 0;
    }
  }
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

async function pixels(jpeg: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const ONLY_FLIP: AugmentPolicy = { flip: 1, rotate: 0, minScale: 1, colour: 0, jpegQuality: [95, 95] };

describe('augmented views', () => {
  it('keeps the size, and a mirror puts the left half on the right', async () => {
    const view = await augmentImage(await asymmetric(), rngFor('t', 0), ONLY_FLIP);
    const { data, width, height } = await pixels(view);
    expect([width, height]).toEqual([64, 48]);
    const at = (x: number, y: number) => [...data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
    expect(at(10, 40)[2]).toBeGreaterThan(200); // was red, now blue
    expect(at(10, 40)[0]).toBeLessThan(60);
    expect(at(58, 40)[0]).toBeGreaterThan(200); // was blue, now red
    expect(Math.min(...at(58, 4))).toBeGreaterThan(200); // the white square moved to the top right
  });

  it('is fixed by its seed: the same view twice, another view differs', async () => {
    const image = await asymmetric();
    const policy = augmentPolicy('expression');
    const a = await augmentImage(image, rngFor('seed', 'row', 1), policy);
    const b = await augmentImage(image, rngFor('seed', 'row', 1), policy);
    const c = await augmentImage(image, rngFor('seed', 'row', 2), policy);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('is milder for deepfake: no loss of resolution, high JPEG quality', () => {
    expect(augmentPolicy('deepfake').minScale).toBe(1);
    expect(augmentPolicy('deepfake').jpegQuality[0]).toBeGreaterThanOrEqual(90);
    expect(augmentPolicy('age').minScale).toBeLessThan(1);
  });

  it('follows each train image row with its views; val rows, videos and malformed rows get none', async () => {
    const image = await asymmetric();
    const item = (id: string, split: string | undefined, file = `${id}.jpg`): SourceItem => ({
      id,
      source: 's',
      file,
      label: { task: 'deepfake', value: 'fake' } as SourceItem['label'],
      split,
      read: async () => image,
    });
    async function* events(): AsyncGenerator<SourceEvent> {
      yield { item: item('s/a', 'train') };
      yield { item: item('s/b', 'val') };
      yield { issue: { id: 's/c', source: 's', reason: 'bad row' } };
      yield { item: item('s/d', 'train', 'd.mp4') };
      yield { item: item('s/e', undefined) }; // no split column: split per file, this one to train
    }
    const out: SourceEvent[] = [];
    for await (const e of withAugmentedViews(events(), { views: 2, seed: 'x', task: 'deepfake', valFraction: 0 })) out.push(e);
    const ids = out.map((e) => ('item' in e ? e.item.id : `issue:${e.issue.id}`));
    expect(ids).toEqual(['s/a', augmentedId('s/a', 1), augmentedId('s/a', 2), 's/b', 'issue:s/c', 's/d', 's/e', 's/e#aug1', 's/e#aug2']);
    const view = out[1] as { item: SourceItem };
    expect(view.item.split).toBe('train');
    expect(view.item.label).toEqual(item('s/a', 'train').label);
    expect((await view.item.read()).equals(image)).toBe(false);
  });

  it('a build writes each view as a sample of its own, with its own crop and landmarks', async () => {
    const out = join(root, 'rof');
    const summary = await buildFaceInstruct({
      sources: ['realorfake'],
      task: 'deepfake',
      out,
      dataRoot: DATA,
      annotator: new OfflineAnnotator(),
      seed: 'test',
      split: 'train',
      limit: 2,
      augment: 2,
    });
    expect(summary.consumed).toBe(6);
    const shard = (await readdir(out)).find((f) => f.startsWith('shard-'))!;
    const recs = (await readFile(join(out, shard), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FaceInstructRecord);
    expect(recs).toHaveLength(6);
    const rows = recs.filter((r) => !r.id.includes('#aug'));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const views = recs.filter((r) => r.id.startsWith(`${row.id}#aug`));
      expect(views).toHaveLength(2);
      for (const v of views) {
        expect(v).toMatchObject({ label: row.label, split: 'train', task: 'deepfake' });
        expect(v.image).not.toBe(row.image);
        expect(v.landmarks_2d).not.toEqual(row.landmarks_2d);
      }
    }
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { config: { augment?: number } };
    expect(manifest.config.augment).toBe(2);
    // Resuming finds everything done; another number of views is another build.
    expect((await buildFaceInstruct({ sources: ['realorfake'], task: 'deepfake', out, dataRoot: DATA, annotator: new OfflineAnnotator(), seed: 'test', split: 'train', limit: 2, augment: 2 })).processed).toBe(0);
    await expect(
      buildFaceInstruct({ sources: ['realorfake'], task: 'deepfake', out, dataRoot: DATA, annotator: new OfflineAnnotator(), seed: 'test', split: 'train', limit: 2, augment: 3 }),
    ).rejects.toThrow(/other settings/);
  });
});
