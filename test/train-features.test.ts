import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../src/graph/host.js';
import type { RgbImage } from '../src/face/rgb.js';
import { FeatureStore, poolTokens, type FeatureExtractor } from '../src/train/features.js';

/** An encoder of 3 tokens of 2 channels a crop, each a function of the crop's first pixel, counting its calls. */
function countingExtractor(): FeatureExtractor & { calls: number } {
  const extractor = {
    id: 'counting-test',
    tokens: 3,
    width: 2,
    calls: 0,
    async encode(crops: readonly RgbImage[]) {
      extractor.calls++;
      const data = new Float32Array(crops.length * 6);
      crops.forEach((c, f) => {
        const r = c.rgb[0];
        data.set([r, 1, r / 2, 2, r / 4, 3.3], f * 6);
      });
      return hostTensor('float32', [crops.length, 3, 2], data);
    },
  };
  return extractor;
}

describe('the feature store', () => {
  it('keeps each crop\'s tokens averaged over the grid, and reads them back without the tokens', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'face-llava-features-'));
    const files = await Promise.all(
      [40, 200].map(async (red, k) => {
        const file = path.join(root, `${k}.png`);
        await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: red, g: 0, b: 0 } } }).png().toFile(file);
        return { file };
      }),
    );
    const extractor = countingExtractor();
    const store = await FeatureStore.open(path.join(root, 'cache'), extractor);
    await store.ensure(files);
    expect(extractor.calls).toBe(1);
    const tokens = (await store.read(files)).data as Float32Array;
    const pooled = await store.readPooled(files);
    expect(Array.from(pooled)).toEqual(Array.from(poolTokens(tokens, 2, 3, 2)));
    expect(pooled[0]).toBeCloseTo((40 + 20 + 10) / 3, 2); // float16 tokens: 2⁻¹¹ relative
    expect(pooled[1]).toBeCloseTo(6.3 / 3, 2);

    // Once pooled, a crop's means are read from their own file: the tokens are no longer needed.
    const tokenFiles = readdirSync(store.dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.f16'));
    expect(tokenFiles).toHaveLength(2);
    for (const f of tokenFiles) rmSync(path.join(store.dir, f));
    expect(Array.from(await store.readPooled(files))).toEqual(Array.from(pooled));
    await expect(store.read(files)).rejects.toThrow(/ENOENT/);
    expect(extractor.calls).toBe(1);
    // A store that has not hashed the crops cannot know their keys.
    const reopened = await FeatureStore.open(path.join(root, 'cache'), countingExtractor());
    await expect(reopened.readPooled(files)).rejects.toThrow(/was not prepared with ensure/);
  });
});
