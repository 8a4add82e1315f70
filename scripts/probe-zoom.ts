// How close should face-api's age network see the face? A model's npm encoder feeds every network the same crop
// (the detector's box ×1.4, src/face/crop.ts); `"zoom": z` on a `concat` entry feeds one network the centre 1/z of
// it instead (src/model/vision/npm-encoder.ts). For each zoom this script measures, on the face crops of a
// FaceInstruct age folder (`face-llava data build --task age`; UTKFace train crops):
//   probe_mae  a ridge regression of age on the network's 7×7 map averaged over the grid, fitted on --train crops
//              and scored on --heldout others (λ picked on a 20 % inner hold-out of the fitting crops)
//   head_mae   face-api's own age output (its regression head) on the held-out crops, cut the same way
//
//   npx tsx scripts/probe-zoom.ts --data fi/utkface-age [--zooms 1,1.2,1.4] [--train 3000] [--heldout 1000]
//     [--model models/default] [--network age_gender] [--threads 2]
//
// With --network face_expression and a `--task expression` folder (FER2013's or CK+'s train crops), it measures
// face-api's own expression output instead: its accuracy on --heldout crops over the seven classes it knows (CK+'s
// contempt left out), per zoom; no probe is fitted. --network emotion does the same with human's emotion net.
//
//   npx tsx scripts/probe-zoom.ts --network face_expression --data fi/ckplus-expression --heldout 1500 --zooms 1,1.2,1.4,1.6
//
// The model directory only supplies the encoder spec and preprocessing; its weights are not read.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { rgbFromSharp, type RgbImage } from '../src/face/rgb.js';
import { FaceApiBaseline, FACEAPI_EXPRESSIONS } from '../src/eval/baselines/face-api.js';
import { HumanBaseline, HUMAN_EMOTIONS } from '../src/eval/baselines/human.js';
import { readModelDirConfig, type ModelDirConfig, type NpmEncoderSpec } from '../src/model/pretrained.js';
import { resolveNpmEncoder, type NetworkRef } from '../src/model/vision/npm-encoder.js';
import { mapChannels } from '../src/model/widen.js';
import { argmax } from '../src/text/sampling.js';
import { encoderExtractor } from '../src/train/extractor.js';
import { mulberry32, shuffleInPlace } from '../src/util/random.js';
import { ridgeSolve } from './lib/ridge.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string' },
    zooms: { type: 'string', default: '1,1.2,1.4' },
    train: { type: 'string', default: '3000' },
    heldout: { type: 'string', default: '1000' },
    model: { type: 'string', default: 'models/default' },
    network: { type: 'string', default: 'age_gender' },
    threads: { type: 'string', default: '2' },
  },
});
if (!a.data) throw new Error('--data <folder of a `face-llava data build --task age` run> is required');
const zooms = a.zooms.split(',').map(Number);
const [nTrain, nHeld, threads] = [Number(a.train), Number(a.heldout), Number(a.threads)];

/** The folder's samples with a label, in a seeded random order: [crop path, age or class]. */
async function samples(dir: string): Promise<Array<[string, number | string]>> {
  const out: Array<[string, number | string]> = [];
  for (const file of (await readdir(dir)).filter((f) => /^shard-\d+\.jsonl$/.test(f)).sort()) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as { image?: string; label?: unknown };
      if ((typeof row.label === 'number' || typeof row.label === 'string') && row.image) out.push([resolve(dir, row.image), row.label]);
    }
  }
  return shuffleInPlace(out, mulberry32(7));
}

/** The centre of a square crop, 1/zoom of its side (the margin rounded to whole pixels, as the encoder does). */
function centre(crop: RgbImage, zoom: number): RgbImage {
  const m = Math.round((crop.width - crop.width / zoom) / 2);
  const s = crop.width - 2 * m;
  const rgb = new Uint8Array(s * s * 3);
  for (let y = 0; y < s; y++) rgb.set(crop.rgb.subarray(((y + m) * crop.width + m) * 3, ((y + m) * crop.width + m + s) * 3), y * s * 3);
  return { width: s, height: s, rgb };
}

/** Ridge regression on standardised features; returns the predictor. */
function ridge(x: Float64Array[], y: readonly number[], lambda: number): (v: Float64Array) => number {
  const [n, d] = [x.length, x[0].length];
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (const v of x) for (let j = 0; j < d; j++) mu[j] += v[j] / n;
  for (const v of x) for (let j = 0; j < d; j++) sd[j] += (v[j] - mu[j]) ** 2 / n;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) || 1;
  const ym = y.reduce((s, t) => s + t, 0) / n;
  // The normal equations' Gram matrix ZᵀZ (upper triangle, then mirrored) and Zᵀ(y − ȳ).
  const g = new Float64Array(d * d);
  const r = new Float64Array(d);
  const z = new Float64Array(d);
  x.forEach((v, i) => {
    for (let j = 0; j < d; j++) z[j] = (v[j] - mu[j]) / sd[j];
    for (let p = 0; p < d; p++) {
      r[p] += z[p] * (y[i] - ym);
      for (let q = p; q < d; q++) g[p * d + q] += z[p] * z[q];
    }
  });
  for (let p = 0; p < d; p++) for (let q = 0; q < p; q++) g[p * d + q] = g[q * d + p];
  const w = ridgeSolve(g, r, d, lambda);
  return (v) => w.reduce((s, wj, j) => s + (wj * (v[j] - mu[j])) / sd[j], ym);
}

const mae = (f: (v: Float64Array) => number, x: Float64Array[], y: readonly number[]) => x.reduce((s, v, i) => s + Math.abs(f(v) - y[i]), 0) / x.length;

/**
 * The network's map averaged over its grid, per crop, with `zoom` set on its `concat` entry: the model's whole
 * encoder runs (the frames reach the network exactly as in the model) and the network's channels are kept.
 */
async function pooledMaps(config: ModelDirConfig, zoom: number, crops: readonly RgbImage[]): Promise<Float64Array[]> {
  if (config.encoder?.kind !== 'npm') throw new Error(`${a.model} has no npm encoder`);
  const encoder = structuredClone(config.encoder) as NpmEncoderSpec & NetworkRef & { concat?: NetworkRef[] };
  const at = (encoder.concat ?? []).findIndex((n) => n.model === a.network);
  if (at < 0) throw new Error(`${a.model}'s encoder has no concat entry for ${a.network}`);
  const refs = [encoder, ...encoder.concat!];
  const widths = await Promise.all(refs.map((r) => mapChannels({ kind: 'npm', package: r.package, model: r.model, layer: r.layer, input_size: r.input_size })));
  const from = widths.slice(0, at + 1).reduce((s, w) => s + w, 0);
  const to = from + widths[at + 1];
  if (to > (config.face_llava.vision as { channels?: number }).channels!) throw new Error(`${a.network}'s channels ${from}–${to} lie outside the encoder's map`);
  encoder.concat![at].zoom = zoom;
  const cfg = { ...config, encoder };
  const extractor = await encoderExtractor(cfg, { encoder: await resolveNpmEncoder(encoder), threads });
  const out: Float64Array[] = [];
  try {
    for (let i = 0; i < crops.length; i += 16) {
      const t = await extractor.encode(crops.slice(i, i + 16));
      const [f, n, c] = t.shape as number[];
      const data = t.data as Float32Array;
      for (let k = 0; k < f; k++) {
        const v = new Float64Array(to - from);
        for (let p = 0; p < n; p++) for (let j = from; j < to; j++) v[j - from] += data[(k * n + p) * c + j] / n;
        out.push(v);
      }
    }
  } finally {
    await extractor.release();
  }
  return out;
}

const faceApi = await FaceApiBaseline.load({ threads });

if (a.network === 'face_expression' || a.network === 'emotion') {
  // The network's own expression head on the centre of each crop, over the classes it knows only: face-api's for
  // face_expression, human's (emotion.json, fed as human feeds it) for emotion.
  const head = a.network === 'emotion' ? { net: await HumanBaseline.load({ threads }), classes: HUMAN_EMOTIONS, name: "human's emotion" } : { net: faceApi, classes: FACEAPI_EXPRESSIONS, name: "face-api's expression" };
  const known = (await samples(resolve(a.data))).filter(([, label]) => (head.classes as readonly unknown[]).includes(label));
  const picked = known.slice(0, nHeld);
  if (picked.length < nHeld) throw new Error(`${a.data} has ${known.length} samples of the network's seven expressions, fewer than --heldout`);
  const crops = await Promise.all(picked.map(([path]) => rgbFromSharp(sharp(path))));
  console.log(`| zoom | ${head.name} output, accuracy (${nHeld}) |`);
  console.log('| --- | --- |');
  for (const zoom of zooms) {
    let right = 0;
    for (let i = 0; i < crops.length; i += 64) {
      const { classes, probabilities } = await head.net.expression(crops.slice(i, i + 64).map((c) => centre(c, zoom)));
      probabilities.forEach((p, k) => {
        if (classes[argmax(p)] === picked[i + k][1]) right++;
      });
    }
    console.log(`| ${zoom} | ${(right / nHeld).toFixed(3)} |`);
  }
  await Promise.all([faceApi.dispose(), head.net === faceApi ? undefined : head.net.dispose()]);
  process.exit(0);
}

const config = await readModelDirConfig(resolve(a.model));
const all = (await samples(resolve(a.data))).filter(([, label]) => typeof label === 'number');
if (all.length < nTrain + nHeld) throw new Error(`${a.data} has ${all.length} labelled samples, fewer than --train + --heldout`);
const picked = all.slice(0, nTrain + nHeld);
const crops = await Promise.all(picked.map(([path]) => rgbFromSharp(sharp(path))));
const ages = picked.map(([, age]) => Number(age));
const [fitN, innerN] = [Math.round(nTrain * 0.8), nTrain - Math.round(nTrain * 0.8)];

console.log(`| zoom | ridge probe MAE (${a.network} pooled, ${nTrain} → ${nHeld}) | λ | face-api's age output MAE (${nHeld}) |`);
console.log('| --- | --- | --- | --- |');
for (const zoom of zooms) {
  const x = await pooledMaps(config, zoom, crops);
  const [xTrain, xHeld] = [x.slice(0, nTrain), x.slice(nTrain)];
  const [yTrain, yHeld] = [ages.slice(0, nTrain), ages.slice(nTrain)];
  const lambdas = [1, 10, 100, 1000, 10000];
  const inner = lambdas.map((l) => mae(ridge(xTrain.slice(0, fitN), yTrain.slice(0, fitN), l), xTrain.slice(fitN, fitN + innerN), yTrain.slice(fitN)));
  const lambda = lambdas[inner.indexOf(Math.min(...inner))];
  const probe = mae(ridge(xTrain, yTrain, lambda), xHeld, yHeld);
  const head = await faceApi.age(crops.slice(nTrain).map((c) => centre(c, zoom)));
  const headMae = head.reduce((s, p, i) => s + Math.abs(p - yHeld[i]), 0) / nHeld;
  console.log(`| ${zoom} | ${probe.toFixed(3)} | ${lambda} | ${headMae.toFixed(3)} |`);
}
