// Mirror test-time augmentation (src/model/mirror.ts): frames and their mirror images, the token grids averaged
// cell by cell with the mirror's flipped back, the mirror's landmarks renumbered; and the option as the library,
// the CLI and a model directory's config take it.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceExpert, type FaceExpert } from '../src/face/index.js';
import { f32, type HostTensor } from '../src/graph/host.js';
import { DEFAULT_MODEL_DIR, loadPretrained, PACKAGE_ROOT, type Pretrained } from '../src/model/pretrained.js';
import { answerQuestions } from '../src/pipeline/generation.js';
import { FaceLlavaPipeline } from '../src/pipeline/index.js';
import { flipGrid, MIRROR_68, mirrorFrames, mirrorMean, withMirrored, withMirroredLandmarks } from '../src/model/mirror.js';
import { mediaTensors } from '../src/pipeline/requests.js';
import { mulberry32 } from '../src/util/random.js';
import { saveTinyModel } from './helpers/tiny-model.js';

const SAMPLE = join(PACKAGE_ROOT, 'samples', 'face.jpg');

const random = (n: number, seed: number) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

/** Tokens [N, d] of a G×G grid (after `cls` leading tokens) with the columns reversed. */
function flipColumns(tokens: Float32Array, g: number, d: number, cls = 0): Float32Array {
  const out = new Float32Array(tokens.length);
  out.set(tokens.subarray(0, cls * d));
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) out.set(tokens.subarray((cls + r * g + c) * d, (cls + r * g + c + 1) * d), (cls + r * g + (g - 1 - c)) * d);
  }
  return out;
}

describe('mirror test-time augmentation: the arithmetic', () => {
  it('appends each frame mirrored left to right, channel by channel', () => {
    const frames = f32([2, 3, 4, 5], random(2 * 3 * 4 * 5, 1));
    const both = withMirrored(frames);
    expect(both.shape).toEqual([4, 3, 4, 5]);
    const data = both.data as Float32Array;
    expect(data.subarray(0, 120)).toEqual(frames.data);
    // Frame 1, channel 2, row 3: its pixels in reverse order.
    const row = (f: number) => data.subarray(f * 60 + 2 * 20 + 3 * 5, f * 60 + 2 * 20 + 4 * 5);
    expect([...row(3)]).toEqual([...row(1)].reverse());
    // Mirroring the mirror gives the frames back.
    const twice = withMirrored(f32([2, 3, 4, 5], data.subarray(120))).data as Float32Array;
    expect(twice.subarray(120)).toEqual(frames.data);
  });

  it("averages each token with the mirror's token at the same row, opposite column", () => {
    const [g, d] = [3, 4];
    const original = random(g * g * d, 2);
    const other = random(g * g * d, 3);
    // A mirror whose tokens are the original's, columns reversed, averages back to the original exactly.
    const same = mirrorMean(f32([2, g * g, d], [...original, ...flipColumns(original, g, d)]), { size: g, cls: false });
    expect(same.shape).toEqual([1, g * g, d]);
    expect(same.data).toEqual(original);
    const mixed = mirrorMean(f32([2, g * g, d], [...original, ...other]), { size: g, cls: false }).data as Float32Array;
    // Cell (row 1, col 0) = token 3 meets the mirror's (row 1, col 2) = token 5.
    for (let c = 0; c < d; c++) expect(mixed[3 * d + c]).toBeCloseTo((original[3 * d + c] + other[5 * d + c]) / 2, 6);
  });

  it('keeps a CLS token where it is and pairs the frames of a batch with their own mirrors', () => {
    const [g, d, frames] = [2, 3, 2];
    const n = g * g + 1;
    const originals = [random(n * d, 4), random(n * d, 5)];
    const mirrors = originals.map((t) => flipColumns(t, g, d, 1));
    const out = mirrorMean(f32([2 * frames, n, d], [...originals[0], ...originals[1], ...mirrors[0], ...mirrors[1]]), { size: g, cls: true });
    expect(out.shape).toEqual([frames, n, d]);
    expect((out.data as Float32Array).subarray(0, n * d)).toEqual(originals[0]);
    expect((out.data as Float32Array).subarray(n * d)).toEqual(originals[1]);
    expect(() => mirrorMean(f32([3, n, d]), { size: g, cls: true })).toThrow(/want tokens \[2F, 5, d\]/);
  });

  it("flips a grid's columns back (a CLS token stays first), and the mirror mean is the mean of a grid and its mirror's flipped", () => {
    const [g, d, frames] = [3, 2, 2];
    const n = g * g + 1;
    const tokens = f32([frames, n, d], random(frames * n * d, 6));
    const flipped = flipGrid(tokens, { size: g, cls: true });
    for (let f = 0; f < frames; f++) {
      const one = (tokens.data as Float32Array).subarray(f * n * d, (f + 1) * n * d);
      expect((flipped.data as Float32Array).subarray(f * n * d, (f + 1) * n * d)).toEqual(flipColumns(one, g, d, 1));
    }
    expect(flipGrid(flipped, { size: g, cls: true }).data).toEqual(tokens.data);
    const other = f32([frames, n, d], random(frames * n * d, 7));
    const mean = mirrorMean(f32([2 * frames, n, d], [...(tokens.data as Float32Array), ...(other.data as Float32Array)]), { size: g, cls: true }).data as Float32Array;
    const back = flipGrid(other, { size: g, cls: true }).data as Float32Array;
    mean.forEach((v, i) => expect(v).toBeCloseTo(((tokens.data as Float32Array)[i] + back[i]) / 2, 6));
    expect(mirrorFrames(f32([1, 1, 1, 3], [1, 2, 3])).data).toEqual(Float32Array.from([3, 2, 1]));
    expect(() => flipGrid(f32([1, 9, d]), { size: g, cls: true })).toThrow(/want tokens \[F, 10, d\]/);
  });

  it('renumbers the 68 points as a left/right swap that leaves the midline in place', () => {
    expect([...MIRROR_68].sort((a, b) => a - b)).toEqual(Array.from({ length: 68 }, (_, i) => i));
    MIRROR_68.forEach((j, i) => expect(MIRROR_68[j]).toBe(i));
    // Chin, nose bridge and tip, the middle nostril point, the lips' middle points.
    expect(MIRROR_68.flatMap((j, i) => (j === i ? [i] : []))).toEqual([8, 27, 28, 29, 30, 33, 51, 57, 62, 66]);
    expect(() => withMirroredLandmarks(f32([1, 5, 2]))).toThrow(/want landmarks \[F, 68, 2\]/);
  });
});

describe('mirror test-time augmentation on a real face', () => {
  let expert: FaceExpert;
  let pretrained: Pretrained;
  beforeAll(async () => {
    [expert, pretrained] = await Promise.all([createFaceExpert(), loadPretrained(DEFAULT_MODEL_DIR, { threads: 2 })]);
  });
  afterAll(async () => {
    expert?.dispose();
    await pretrained?.dispose();
  });

  const face = async (input: Buffer | string) => {
    const analysis = await expert.analyze(input);
    if (analysis.kind !== 'image') throw new Error('unreachable');
    return analysis.faces[0];
  };

  // The face expert run on the mirrored photo finds the points the renumbering predicts from the photo's own. Its
  // crop of the mirror is not exactly the crop's mirror (the detector's box moves by a few pixels), so both are
  // compared in the photo's pixels.
  it('predicts the landmarks the face expert finds on the mirrored photo', async () => {
    const { width } = await sharp(SAMPLE).metadata();
    const seen = await face(SAMPLE);
    const mirrored = await face(await sharp(SAMPLE).flop().toBuffer());
    const inPhoto = (f: typeof seen, [x, y]: readonly number[]) => [f.cropRegion.x + x * f.cropRegion.width, f.cropRegion.y + y * f.cropRegion.height];
    // The renumbered points of the crop's mirror image, then that image placed where the crop's mirror lies.
    const mirrorRegion = { ...seen.cropRegion, x: width! - seen.cropRegion.x - seen.cropRegion.width };
    const predicted = withMirroredLandmarks(f32([1, 68, 2], seen.landmarks68.flat())).data.subarray(136) as Float32Array;
    const error = (i: number, p: readonly number[]) => {
      const [px, py] = inPhoto({ ...seen, cropRegion: mirrorRegion }, p);
      const [fx, fy] = inPhoto(mirrored, mirrored.landmarks68[i]);
      return Math.hypot(px - fx, py - fy) / seen.cropRegion.width;
    };
    const mean = (ids: readonly number[], point: (i: number) => readonly number[]) => ids.reduce((s, i) => s + error(i, point(i)), 0) / ids.length;
    const all = Array.from({ length: 68 }, (_, i) => i);
    const renumbered = (i: number) => [predicted[2 * i], predicted[2 * i + 1]];
    // The eyes are 0.3–0.4 of the crop apart: a wrong pairing would be off by that much.
    expect(mean(all, renumbered)).toBeLessThan(0.02);
    expect(mean([36, 39, 42, 45], renumbered)).toBeLessThan(0.02);
    // Mirrored but not renumbered, the eye corners land on the other eye.
    const unpaired = (i: number) => [1 - seen.landmarks68[i][0], seen.landmarks68[i][1]];
    expect(mean([36, 39, 42, 45], unpaired)).toBeGreaterThan(0.15);
  });

  // Which of the mirror's cells describes the same part of the face: the encoder's tokens of the mirrored crop, read
  // with the columns reversed, are nearer the original's than read as they are or with the rows reversed.
  it("pairs each cell with the mirror's cell that shows the same part of the face", async () => {
    const seen = await face(SAMPLE);
    const { frames } = await mediaTensors({ kind: 'image', crops: [seen.crop], landmarks: [seen.landmarks68] }, pretrained.preprocess, false);
    const tokens = (await pretrained.model.encodeMedia(withMirrored(frames))).data as Float32Array;
    const { size: g } = pretrained.model.encoder.grid;
    const d = pretrained.config.face_llava.llm.hidden_size;
    const cells = g * g;
    // Tokens centred on their mean over both grids: what they share says nothing about where a cell lies.
    const centre = new Float32Array(d);
    for (let j = 0; j < 2 * cells; j++) for (let c = 0; c < d; c++) centre[c] += tokens[j * d + c] / (2 * cells);
    const token = (frame: number, r: number, c: number) =>
      tokens.subarray((frame * cells + r * g + c) * d, (frame * cells + r * g + c + 1) * d).map((x, i) => x - centre[i]);
    const cosine = (a: Float32Array, b: Float32Array) => {
      let [ab, aa, bb] = [0, 0, 0];
      for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i] * b[i], aa + a[i] * a[i], bb + b[i] * b[i]];
      return ab / Math.sqrt(aa * bb);
    };
    const agreement = (pair: (r: number, c: number) => [number, number]) => {
      let sum = 0;
      for (let r = 0; r < g; r++) for (let c = 0; c < g; c++) sum += cosine(token(0, r, c), token(1, ...pair(r, c)));
      return sum / cells;
    };
    const flipped = agreement((r, c) => [r, g - 1 - c]);
    // A face is nearly symmetric, so the cells as they are agree almost as well (0.86 against 0.90 on the sample).
    expect(flipped).toBeGreaterThan(agreement((r, c) => [r, c]) + 0.01);
    expect(flipped).toBeGreaterThan(agreement((r, c) => [g - 1 - r, c]) + 0.2);
  });
});

describe('mirror test-time augmentation as an option', () => {
  // A model with the landmark branch: the encoder gets each frame and its mirror, with the landmarks of both, and
  // the decoder the averaged tokens.
  it('encodes the frames and their mirrors, landmarks and all, when asked to', async () => {
    const dir = await saveTinyModel(mkdtempSync(join(os.tmpdir(), 'face-llava-mirror-')));
    const pretrained = await loadPretrained(dir, { threads: 1 });
    try {
      const r = mulberry32(7);
      const crop = { width: 256, height: 256, rgb: Uint8Array.from({ length: 256 * 256 * 3 }, () => Math.floor(r() * 256)) };
      const landmarks = Array.from({ length: 68 }, (_, i): [number, number] => [0.2 + 0.6 * r(), 0.2 + 0.6 * (i / 68)]);
      const media = { kind: 'image' as const, crops: [crop], landmarks: [landmarks] };
      const seen: { frames: number[]; landmarks?: number[]; out: HostTensor }[] = [];
      const encode = pretrained.model.encode.bind(pretrained.model);
      pretrained.model.encode = async (frames, lm, o) => {
        const out = await encode(frames, lm, o);
        seen.push({ frames: [...frames.shape], landmarks: lm && [...lm.shape], out: out.visual });
        return out;
      };
      const question = { media, instruction: 'What is the facial expression?' };
      await answerQuestions(pretrained, [question], { maxNewTokens: 2 });
      await answerQuestions(pretrained, [question], { maxNewTokens: 2, mirror: true });
      expect(seen.map((s) => [s.frames[0], s.landmarks?.[0]])).toEqual([[1, 1], [2, 2]]);
      // The mirror's half is what the mirrored frames encode to on their own.
      const { frames, landmarks: lm } = await mediaTensors(media, pretrained.preprocess, true);
      const { visual: alone } = await encode(f32(frames.shape, (withMirrored(frames).data as Float32Array).subarray(frames.data.length)), f32(lm!.shape, (withMirroredLandmarks(lm!).data as Float32Array).subarray(lm!.data.length)));
      const half = (seen[1].out.data as Float32Array).subarray(alone.data.length);
      half.forEach((x, i) => expect(x).toBeCloseTo((alone.data as Float32Array)[i], 4));
    } finally {
      await pretrained.dispose();
    }
  });

  let fl: FaceLlavaPipeline;
  beforeAll(async () => {
    fl = await FaceLlavaPipeline.load({ threads: 2 });
  });
  afterAll(() => fl?.dispose());

  it("is the shipped model's setting, and can be turned off per analysis", async () => {
    const pretrained = await loadPretrained(DEFAULT_MODEL_DIR, { threads: 1 });
    try {
      expect(pretrained.config.mirror).toBe(true);
    } finally {
      await pretrained.dispose();
    }
    const [byDefault, on, off] = await Promise.all(
      [undefined, true, false].map((mirror) => fl.analyze(SAMPLE, { task: 'age', sampling: { seed: 0 }, mirror })),
    );
    expect(byDefault.answer).toBe(on.answer);
    for (const r of [on, off]) expect(r.label, r.answer).not.toBeNull();
  });
});
