// Training on mirrored views (`--mirror-views`): the encoder's tokens of each crop's mirror image, the grid flipped
// back, are the other half of what a model with `mirror` averages when it answers; a run draws one view per example
// and update from its own random stream, caches both, and resumes to the same weights.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { f32, type HostTensor } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { flipGrid, mirrorMean } from '../src/model/mirror.js';
import { parseModelDirConfig, type ResolvedEncoder } from '../src/model/pretrained.js';
import { rgbFromSharp, type RgbImage } from '../src/face/rgb.js';
import { encoderExtractor } from '../src/train/extractor.js';
import { expressionFolder, LANDMARKS, MIX, poolingEncoder, readLog, TINY_MODEL_CONFIG } from './helpers/train-data.js';
import { train, type TrainEvent, type TrainOptions } from '../src/train/trainer.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'face-llava-mirror-'));

/** Weights each pixel by its column, 0.2 at the left edge to 1.8 at the right: a network that tells left from right. */
const RAMP = f32([1, 1, 1, 16], Float32Array.from({ length: 16 }, (_, x) => 0.2 + (1.6 * x) / 15));

const symmetric = poolingEncoder;
/** The same after the column ramp: a face and its mirror give other tokens. */
const sided = (): ResolvedEncoder => ({
  network: {
    inputShape: [3, 16, 16],
    build: (x) => ops.conv(ops.avgPool(ops.mul(x, x.graph.constant(RAMP, 'ramp')), { kernel: [8, 8] }), x.graph.constant(MIX, 'mix'), null),
  },
});

const CONFIG = TINY_MODEL_CONFIG;

type Rgb = { r: number; g: number; b: number };

/** A 256×256 crop whose left half is `left` and right half `right`. */
async function twoTone(left: Rgb, right: Rgb) {
  const half = await sharp({ create: { width: 128, height: 256, channels: 3, background: right } }).png().toBuffer();
  return sharp({ create: { width: 256, height: 256, channels: 3, background: left } }).composite([{ input: half, left: 128, top: 0 }]);
}

const crop = async (left: Rgb, right: Rgb): Promise<RgbImage> => rgbFromSharp((await twoTone(left, right)).removeAlpha());

describe('the mirrored view of the encoder tokens', () => {
  const config = parseModelDirConfig({ ...CONFIG, tasks: ['expression'] });
  const encodings = async (encoder: () => ResolvedEncoder, crops: RgbImage[]): Promise<[HostTensor, HostTensor]> => {
    const [plain, mirrored] = await Promise.all([false, true].map((m) => encoderExtractor(config, { encoder: encoder(), mirrored: m })));
    try {
      expect(mirrored.id).not.toBe(plain.id); // the cache never mixes the two views
      return [await plain.encode(crops), await mirrored.encode(crops)];
    } finally {
      await Promise.all([plain.release(), mirrored.release()]);
    }
  };

  it('puts each token back in its place: a network that reads mirror images alike gives the plain tokens', async () => {
    const crops = [await crop({ r: 230, g: 40, b: 30 }, { r: 20, g: 60, b: 220 }), await crop({ r: 30, g: 200, b: 90 }, { r: 240, g: 230, b: 20 })];
    const [plain, mirrored] = await encodings(symmetric, crops);
    expect(mirrored.shape).toEqual([2, 4, 4]);
    const [a, b] = [plain.data as Float32Array, mirrored.data as Float32Array];
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    // Not trivially: the two halves of each crop give other tokens, so a grid left unflipped would differ.
    const unflipped = flipGrid(mirrored, { size: 2, cls: false }).data as Float32Array;
    expect(Math.max(...a.map((v, i) => Math.abs(v - unflipped[i])))).toBeGreaterThan(0.5);
  });

  it('is another reading for a network that tells left from right, and its mean with the plain one is what inference reads', async () => {
    const crops = [await crop({ r: 230, g: 40, b: 30 }, { r: 20, g: 60, b: 220 })];
    const [plain, mirrored] = await encodings(sided, crops);
    const [a, b] = [plain.data as Float32Array, mirrored.data as Float32Array];
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(0.1);
    // Inference encodes [frames; mirrored frames] and takes mirrorMean; the mirror's raw tokens are the view's grid
    // flipped the other way.
    const raw = f32([2, 4, 4], [...a, ...(flipGrid(mirrored, { size: 2, cls: false }).data as Float32Array)]);
    const mean = mirrorMean(raw, { size: 2, cls: false }).data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(mean[i]).toBeCloseTo((a[i] + b[i]) / 2, 6);
  });

  it('is refused for an encoder whose tail trains, whose map the training graph finishes', async () => {
    const split: ResolvedEncoder = { ...symmetric(), split: { prefix: symmetric().network, channels: 3, grid: 2, tail: (map) => map, initial: new Map() } };
    await expect(encoderExtractor(config, { encoder: split, mirrored: true })).rejects.toThrow(/mirrored views .* need a frozen encoder/);
  });
});

/** Records whose crops are two-toned, the label's colour on the left for half of them and on the right for the rest. */
const sidedData = (n: number): Promise<string> =>
  expressionFolder(n, async (k, happy, media) => {
    const [warm, cool] = [{ r: 230, g: 150 + 10 * (k % 5), b: 40 }, { r: 40, g: 80, b: 170 + 10 * (k % 5) }];
    await (k % 4 < 2 ? twoTone(warm, cool) : twoTone(cool, warm)).then((s) => s.png().toFile(path.join(media, `${k}.png`)));
    return { image: `${k}.png`, answer: happy ? 'The person looks happy.' : 'The person looks sad.', landmarks: LANDMARKS };
  });

const stepLosses = (run: string) => readLog(run).flatMap((e) => (e.type === 'step' ? [e.loss] : []));

describe('a training run on mirrored views', () => {
  let data: string;
  beforeAll(async () => {
    data = await sidedData(20);
  });

  it('caches both views of the training crops, draws them per update, records it and resumes to the same weights', async () => {
    const root = tmp();
    const cache = path.join(root, 'cache');
    const options = (out: string, onEvent?: (e: TrainEvent) => void): TrainOptions => ({
      data: [data],
      val: [data],
      out,
      cache,
      stages: ['pretrain'],
      config: CONFIG,
      resolveEncoder: sided,
      epochs: 4,
      maxSteps: 6,
      batch: 4,
      lr: 5e-3,
      checkpointEvery: 2,
      mirrorViews: true,
      threads: 2,
      onEvent,
    });
    const events: TrainEvent[] = [];
    const whole = path.join(root, 'whole');
    await train(options(whole, (e) => e.type === 'encode' && events.push(e)));
    // The plain view of all 20 crops (validation reads them as they are), the mirrored view of the 16 trained on.
    expect(events.filter((e) => e.type === 'encode' && e.done === e.total).map((e) => e.type === 'encode' && [e.total, e.mirrored ?? false])).toEqual([
      [20, false],
      [16, true],
    ]);
    expect(JSON.parse(readFileSync(path.join(whole, 'run.json'), 'utf8')).mirror_views).toBe(true);
    expect(JSON.parse(readFileSync(path.join(whole, 'model', 'config.json'), 'utf8')).training.mirror_views).toBe(true);

    // Stopped after update 3 and resumed: the views drawn are the uninterrupted run's.
    const stopped = path.join(root, 'stopped');
    const stopAt = (e: TrainEvent) => {
      if (e.type === 'step' && e.entry.step === 3) throw new Error('killed');
    };
    await expect(train(options(stopped, stopAt))).rejects.toThrow('killed');
    const resumedEncodes: TrainEvent[] = [];
    await train({ ...options(stopped, (e) => e.type === 'encode' && resumedEncodes.push(e)), resume: true });
    expect(resumedEncodes).toEqual([]); // both views came from the cache
    const weights = (run: string) => readFileSync(path.join(run, 'model', 'model.safetensors'));
    expect(weights(stopped).equals(weights(whole))).toBe(true);
    expect(stepLosses(stopped)).toEqual(stepLosses(whole));
    await expect(train({ ...options(stopped), mirrorViews: false, resume: true })).rejects.toThrow(/other settings \(mirror_views\)/);

    // The views are read: without them the same run's updates see other tokens, so other losses.
    const plain = path.join(root, 'plain');
    await train({ ...options(plain), mirrorViews: undefined });
    expect(stepLosses(plain)).toHaveLength(6);
    expect(stepLosses(plain).some((loss, i) => Math.abs(loss - stepLosses(whole)[i]) > 1e-6)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(plain, 'model', 'config.json'), 'utf8')).training.mirror_views).toBeUndefined();
  });
});
