// Fitting the label heads of a model (model/label-heads.ts) to FaceInstruct training records: each record's crops
// go through the model's frozen encoder (cached on disk like the trainer's features, features.ts), its tokens are
// averaged over the grid — and over the mirror image's when the model reads faces with their mirror (`mirror` in
// config.json), and over a video's frames — as the model pools them when it answers. Then, per task, on those
// features standardized:
//   expression   multinomial logistic regression over the expressions the data labels
//   real/fake    the same over the two classes
//   age          the same over the ages the data labels, each example's target a spread of years around its
//                age (`ageSpread`), not the one year alone
//   AUs          one logistic regression per AU with at least MIN_POSITIVE_IMAGES images showing it
//   attributes   one logistic regression per CelebA attribute
// with an L2 strength λ picked by the held-out log-loss on a fifth of the images (by subject where records name
// one; an image's augmented views stay with it; the grid goes on past an end that scores best), then refitted on
// all of them (logistic.ts: L-BFGS). With `hidden`, a hidden ReLU layer comes first (hidden-head.ts: AdamW, input
// dropout), fitted for the number of epochs that scores best on the same held-out fold. The standardization is
// folded into the (first) weights.
import { openCheckpoint } from '../graph/safetensors.js';
import { CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import { AUTHENTICITY } from '../data/labels/deepfake.js';
import { EXPRESSIONS } from '../data/labels/expression.js';
import { visionWidth } from '../model/config.js';
import { type HeadTask, HEAD_TASKS, isHeadTask, type LabelHead, LabelHeads, labelHeadsConfig, type LabelHeadSet, writeLabelHeads } from '../model/label-heads.js';
import { readModelDirConfig, resolveEncoder, writeModelDirConfig, type EncoderResolver, type ModelDirConfig, type ResolvedEncoder } from '../model/pretrained.js';
import { llamaTokenizer } from '../text/tokenizer.js';
import { type Example, listJsonl, loadExamples } from './data.js';
import { encoderExtractor } from './extractor.js';
import { FeatureStore, frameName } from './features.js';
import { fitHiddenHead, hiddenHeadScores } from './hidden-head.js';
import { columnStats, fitLogistic, type LinearModel, type LogisticKind, linearScores, releaseLogisticSessions, standardize } from './logistic.js';

/** An AU gets a head when at least this many distinct training images show it. */
export const MIN_POSITIVE_IMAGES = 10;
/** The L2 strengths tried. */
export const DEFAULT_LAMBDAS: readonly number[] = [10, 1, 0.1, 0.01, 0.001];

export interface FitLabelHeadsOptions {
  /** The model directory whose encoder the heads read. */
  model: string;
  /** FaceInstruct folders or JSONL files (records of split train). */
  data: readonly string[];
  /** Where encoder features are cached (the trainer's --cache: features it cached are read, not recomputed). */
  cache: string;
  /** The tasks to fit (default: every head task the data labels). */
  tasks?: readonly HeadTask[];
  /** The heads' share w of the pooled decision (default ½). */
  weight?: number;
  /**
   * The L2 strengths tried (default DEFAULT_LAMBDAS, extended past either end while the held-out log-loss keeps
   * falling there); given, exactly these.
   */
  lambdas?: readonly number[];
  /**
   * A hidden ReLU layer of this width in each head fitted (train/hidden-head.ts), fitted by AdamW for the number
   * of epochs, up to `maxEpochs` (default 12), that scores best on the held-out fold; default none (logistic).
   */
  hidden?: number;
  maxEpochs?: number;
  threads?: number;
  /** Builds an `npm` encoder (default: the registry of vision/npm-encoder.ts). */
  resolveEncoder?: EncoderResolver;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a task's fit found. */
export interface HeadFitReport {
  task: HeadTask;
  kind: LogisticKind;
  labels: string[];
  /** Training examples (records) and distinct images (augmented views counted with their image). */
  examples: number;
  images: number;
  /** Held-out mean log-loss per λ tried (or per epoch of a hidden layer's fit), and the λ (epochs) chosen. */
  heldOut: { lambda?: number; epoch?: number; logLoss: number }[];
  lambda?: number;
  /** With a hidden layer: its width, and the epochs of the fit kept. */
  hidden?: number;
  epochs?: number;
  /** Per label, the probability it needs to be stated (AUs: F1-minded, `f1Thresholds`). */
  thresholds?: number[];
}

export interface FittedLabelHeads extends LabelHeadSet {
  reports: HeadFitReport[];
}

/** An example's image: its id without the augmented view's suffix ("x.jpg#aug3" is a view of x.jpg). */
const imageOf = (e: Example): string => e.id.replace(/#aug\d+$/, '');

/** What holds images together in the hold-out: the record's subject where it names one, else the image. */
function groupOf(e: Example): string {
  return e.subject ?? imageOf(e);
}

/** A stable hash of a string (FNV-1a), for the hold-out assignment. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A task whose head reads one class of several (softmax; an age is one of the ages); the others, yes/no labels (sigmoid). */
const isClassTask = (task: HeadTask): boolean => task === 'expression' || task === 'deepfake' || task === 'age';

/**
 * The spread σ(a) = max(1, a/10) years of an age head's target around a labelled age a. Label-distribution learning
 * for age (Gao et al. 2017, DLDL): a face of 40 is about as likely labelled 38 or 42, and a one-hot target would
 * call those as wrong as 70. The spread grows with age, as the uncertainty of people's own guesses does. On a
 * held-out fifth of UTKFace's train split (pooled features, logistic head, λ by MAE): one-hot targets 4.99 years,
 * σ = 2 years 4.83, σ = a/10 4.81 (`face-llava heads` itself picks λ by log-loss).
 */
export const ageSpread = (age: number): number => Math.max(1, age / 10);

/** The labels a task's head predicts, from its training examples. */
export function headLabels(task: HeadTask, examples: readonly Example[]): string[] {
  switch (task) {
    case 'expression': {
      const seen = new Set(examples.map((e) => e.target!.value as string));
      return EXPRESSIONS.filter((x) => seen.has(x));
    }
    case 'attributes':
      return [...CELEBA_ATTRIBUTES];
    case 'deepfake': {
      const seen = new Set(examples.map((e) => e.target!.value as string));
      return AUTHENTICITY.filter((x) => seen.has(x));
    }
    case 'age':
      // Whole years, as the decoder states them.
      return [...new Set(examples.map((e) => Math.round(e.target!.value as number)))].sort((a, b) => a - b).map(String);
    case 'au': {
      const images = new Map<number, Set<string>>();
      for (const e of examples) {
        for (const au of e.target!.value as readonly number[]) {
          let set = images.get(au);
          if (!set) images.set(au, (set = new Set()));
          set.add(imageOf(e));
        }
      }
      return [...images].filter(([, s]) => s.size >= MIN_POSITIVE_IMAGES).map(([au]) => au).sort((a, b) => a - b).map(String);
    }
  }
}

/**
 * The targets [n, k] of examples for a head's labels: one-hot classes, 0/1 per label, or for ages a discretised
 * Gaussian of spread `ageSpread` around the labelled age over the head's ages, summing to 1.
 */
export function headTargets(task: HeadTask, labels: readonly string[], examples: readonly Example[]): Float32Array {
  const k = labels.length;
  const y = new Float32Array(examples.length * k);
  if (task === 'age') {
    const ages = labels.map(Number);
    examples.forEach((e, i) => {
      const age = e.target!.value as number;
      const sigma = ageSpread(age);
      const row = y.subarray(i * k, (i + 1) * k);
      ages.forEach((a, c) => (row[c] = Math.exp(-((a - age) ** 2) / (2 * sigma * sigma))));
      const total = row.reduce((sum, v) => sum + v, 0);
      for (let c = 0; c < k; c++) row[c] /= total;
    });
    return y;
  }
  examples.forEach((e, i) => {
    const value = e.target!.value;
    labels.forEach((label, c) => {
      const on = isClassTask(task) ? value === label : task === 'au' ? (value as readonly number[]).includes(Number(label)) : (value as readonly string[]).includes(label);
      if (on) y[i * k + c] = 1;
    });
  });
  return y;
}

/** Mean negative log-likelihood of targets y [n, k] under scores z [n, k]. */
export function logLoss(kind: LogisticKind, z: Float64Array, y: Float32Array, n: number, k: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (kind === 'softmax') {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[i * k + c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(z[i * k + c] - max);
      for (let c = 0; c < k; c++) if (y[i * k + c] > 0) total -= y[i * k + c] * (z[i * k + c] - max - Math.log(sum));
    } else {
      for (let c = 0; c < k; c++) {
        const v = z[i * k + c];
        // log(1 + e^v) − y·v, stably
        total += Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))) - y[i * k + c] * v;
      }
    }
  }
  return total / n;
}

/**
 * Per label, the threshold on p that F1 calls for: half the best F1 the held-out scores z [n, k] reach against y
 * (for calibrated probabilities the F1-optimal threshold is ½·F1*: Lipton, Elkan & Naryanaswamy 2014), within
 * [0.05, ½]; ½ for a label the fold never shows.
 */
export function f1Thresholds(z: Float64Array, y: Float32Array, n: number, k: number): number[] {
  return Array.from({ length: k }, (_, c) => {
    const positives = Array.from({ length: n }, (_, i) => y[i * k + c]).reduce((a, b) => a + b, 0);
    if (positives === 0) return 0.5;
    let best = 0;
    for (let t = 0.05; t < 0.951; t += 0.05) {
      let [tp, fp, fn] = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const said = 1 / (1 + Math.exp(-z[i * k + c])) > t;
        const truth = y[i * k + c] > 0;
        if (said && truth) tp++;
        else if (said) fp++;
        else if (truth) fn++;
      }
      best = Math.max(best, (2 * tp) / (2 * tp + fp + fn));
    }
    return Math.min(0.5, Math.max(0.05, best / 2));
  });
}

/** A linear model on standardized features, folded so that it reads raw ones: W' = W/σ, b' = b − Σ W·μ/σ. */
export function foldStandardization(model: LinearModel, stats: { mean: Float64Array; std: Float64Array }): { matrix: Float32Array; bias: Float32Array } {
  const { d, k } = model;
  const weight = new Float32Array(d * k);
  const bias = Float64Array.from(model.b);
  for (let j = 0; j < d; j++) {
    for (let c = 0; c < k; c++) {
      const w = model.w[j * k + c] / stats.std[j];
      weight[j * k + c] = w;
      bias[c] -= w * stats.mean[j];
    }
  }
  return { matrix: weight, bias: Float32Array.from(bias) };
}

const taskOf = (e: Example): HeadTask | undefined => {
  const t = e.target?.task;
  return t !== undefined && isHeadTask(t) ? t : undefined;
};

/** Pooled features [n, C] of examples: their frames' tokens averaged over the grid, the views and the frames. */
async function pooledFeatures(
  config: ModelDirConfig,
  model: string,
  encoder: ResolvedEncoder | undefined,
  examples: readonly Example[],
  o: FitLabelHeadsOptions,
): Promise<{ x: Float32Array; width: number }> {
  const views = config.mirror ? [false, true] : [false];
  let x: Float32Array | undefined;
  let width = 0;
  for (const mirrored of views) {
    const extractor = await encoderExtractor(config, { encoder, weights: openCheckpoint(model), threads: o.threads, mirrored });
    try {
      const store = await FeatureStore.open(o.cache, extractor);
      const frames = examples.flatMap((e) => e.frames);
      const view = mirrored ? 'mirrored crops' : 'crops';
      await store.ensure(frames, (done, total) => o.log?.(`encoding ${view}: ${done}/${total}`));
      const c = extractor.width;
      width = c;
      x ??= new Float32Array(examples.length * c);
      // Each distinct frame is read once; an example's rows are the mean over its frames and the views.
      const pooled = new Map<string, Float32Array>();
      const distinct = [...new Map(frames.map((f) => [frameName(f), f])).values()];
      const CHUNK = 256;
      for (let start = 0; start < distinct.length; start += CHUNK) {
        const chunk = distinct.slice(start, start + CHUNK);
        const rows = await store.readPooled(chunk);
        chunk.forEach((f, i) => pooled.set(frameName(f), rows.subarray(i * c, (i + 1) * c)));
        if ((start / CHUNK) % 20 === 0) o.log?.(`pooling ${view}: ${Math.min(start + CHUNK, distinct.length)}/${distinct.length}`);
      }
      examples.forEach((e, i) => {
        const share = 1 / (e.frames.length * views.length);
        const out = x!.subarray(i * c, (i + 1) * c);
        for (const f of e.frames) {
          const row = pooled.get(frameName(f))!;
          for (let q = 0; q < c; q++) out[q] += row[q] * share;
        }
      });
    } finally {
      await extractor.release();
    }
  }
  return { x: x!, width };
}

/** The fifth of the examples held out to choose λ (or epochs): the rest to fit, and it to score. */
interface HeldOutFold {
  fit: { x: Float32Array; y: Float32Array; n: number };
  out: { x: Float32Array; y: Float32Array; n: number };
}

/** One head's standardized data [n, d] → [n, k], its held-out fold where there is one. */
interface HeadData {
  kind: LogisticKind;
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
  k: number;
  fold?: HeldOutFold;
  threads?: number;
  log: (line: string) => void;
}

/** A head fitted on standardized features: its output layer (after `hidden` where there is one) and how it was chosen. */
interface HeadFit {
  output: LinearModel;
  hidden?: LinearModel;
  heldOut: HeadFitReport['heldOut'];
  /** The held-out fold's scores under the setting chosen, fitted without it. */
  heldOutScores?: Float64Array;
  chosen: Pick<HeadFitReport, 'lambda' | 'hidden' | 'epochs'>;
}

/** How far `extend` takes the λ grid past its ends. */
export const LAMBDA_RANGE = { min: 1e-6, max: 1e4 } as const;

/**
 * Logistic regression, its L2 strength the one of `lambdas` with the lowest held-out log-loss (each fit warm-started
 * from the stronger λ before), then refitted on all the data. A single λ is scored only when `scoreAlways`. With
 * `extend`, a best λ at either end of the grid is not taken for the minimum it may not be: the grid goes on past
 * that end by factors of 10 (within LAMBDA_RANGE) for as long as the held-out log-loss keeps falling.
 */
async function fitLinear(h: HeadData, lambdas: readonly number[], o: { scoreAlways: boolean; extend: boolean }): Promise<HeadFit> {
  const heldOut: HeadFitReport['heldOut'] = [];
  let lambda = lambdas[0];
  let heldOutScores: Float64Array | undefined;
  if (h.fold && (lambdas.length > 1 || o.scoreAlways)) {
    const { fit, out } = h.fold;
    let init: LinearModel | undefined;
    const scores = new Map<number, Float64Array>();
    const score = async (l: number) => {
      init = await fitLogistic(h.kind, fit.x, fit.y, fit.n, h.d, h.k, l, { init, threads: h.threads });
      const z = linearScores(init, out.x, out.n);
      scores.set(l, z);
      const loss = logLoss(h.kind, z, out.y, out.n, h.k);
      heldOut.push({ lambda: l, logLoss: loss });
      h.log(`λ ${l}: held-out log-loss ${loss.toFixed(4)}`);
    };
    const best = () => heldOut.reduce((b, r) => (r.logLoss < b.logLoss ? r : b)).lambda!;
    const grid = [...lambdas].sort((a, b) => b - a);
    for (const l of grid) await score(l);
    if (o.extend && grid.length > 1) {
      const step = (l: number, by: number) => Number((l * by).toPrecision(12));
      // The weak end, warm-started from the fit before as the grid is; then the strong end, from a cold start.
      for (let l = grid[grid.length - 1]; best() === l && step(l, 0.1) >= LAMBDA_RANGE.min; ) await score((l = step(l, 0.1)));
      init = undefined;
      for (let l = grid[0]; best() === l && step(l, 10) <= LAMBDA_RANGE.max; ) await score((l = step(l, 10)));
    }
    lambda = best();
    heldOutScores = scores.get(lambda);
  }
  const output = await fitLogistic(h.kind, h.x, h.y, h.n, h.d, h.k, lambda, { threads: h.threads });
  return { output, heldOut, heldOutScores, chosen: { lambda } };
}

/**
 * A hidden layer of `width` units (hidden-head.ts): fitted on the fold for `maxEpochs`, scored after each; then
 * refitted on all the data along the same learning-rate schedule and stopped at the epoch that scored best.
 */
async function fitWithHiddenLayer(h: HeadData, width: number, maxEpochs: number): Promise<HeadFit> {
  const heldOut: HeadFitReport['heldOut'] = [];
  let epochs = maxEpochs;
  let heldOutScores: Float64Array | undefined;
  if (h.fold) {
    const { fit, out } = h.fold;
    let best = Infinity;
    await fitHiddenHead(h.kind, fit.x, fit.y, fit.n, h.d, h.k, {
      hidden: width,
      epochs: maxEpochs,
      threads: h.threads,
      onEpoch: async (epoch, m) => {
        const z = await hiddenHeadScores(m, out.x, out.n, h.threads);
        const loss = logLoss(h.kind, z, out.y, out.n, h.k);
        heldOut.push({ epoch, logLoss: loss });
        h.log(`hidden ${width}, epoch ${epoch}: held-out log-loss ${loss.toFixed(4)}`);
        if (loss < best) [best, epochs, heldOutScores] = [loss, epoch, z];
      },
    });
  }
  const model = await fitHiddenHead(h.kind, h.x, h.y, h.n, h.d, h.k, { hidden: width, epochs, scheduleEpochs: maxEpochs, threads: h.threads });
  return { output: model.output, hidden: model.hidden, heldOut, heldOutScores, chosen: { hidden: width, epochs } };
}

/** Rows `idx` of a row-major [*, width] matrix. */
function rows(m: Float32Array, width: number, idx: readonly number[]): Float32Array {
  const r = new Float32Array(idx.length * width);
  idx.forEach((i, q) => r.set(m.subarray(i * width, (i + 1) * width), q * width));
  return r;
}

/** Fits the heads (see the header); the model directory is not changed. */
export async function fitLabelHeads(o: FitLabelHeadsOptions): Promise<FittedLabelHeads> {
  const config = await readModelDirConfig(o.model);
  const encoder = config.encoder.kind === 'npm' ? await resolveEncoder(config.encoder, o.resolveEncoder, 'label heads') : undefined;
  if (encoder?.split) throw new Error('label heads read a frozen encoder: this model trains part of its encoder (train_from)');
  const { examples: all } = await loadExamples(await listJsonl(o.data), { tokenizer: llamaTokenizer(), config: config.face_llava, split: 'train' });
  const wanted = new Set<HeadTask>(o.tasks ?? HEAD_TASKS);
  const byTask = new Map<HeadTask, Example[]>();
  for (const e of all) {
    const task = taskOf(e);
    if (!task || !wanted.has(task)) continue;
    let list = byTask.get(task);
    if (!list) byTask.set(task, (list = []));
    list.push(e);
  }
  for (const task of o.tasks ?? []) if (!byTask.has(task)) throw new Error(`no training record of --data is labelled for ${task}`);
  if (byTask.size === 0) throw new Error(`no training record of --data is labelled for a task with a head (${HEAD_TASKS.join(', ')})`);

  const heads = new Map<HeadTask, LabelHead>();
  const reports: HeadFitReport[] = [];
  const lambdas = o.lambdas ?? DEFAULT_LAMBDAS;
  try {
    for (const [task, examples] of byTask) {
      const labels = headLabels(task, examples);
      if (labels.length < (isClassTask(task) ? 2 : 1)) throw new Error(`${task}: too few labels to fit a head (${labels.join(', ') || 'none'})`);
      const kind: LogisticKind = isClassTask(task) ? 'softmax' : 'sigmoid';
      o.log?.(`${task}: ${examples.length} examples, ${labels.length} labels`);
      const { x: raw, width: d } = await pooledFeatures(config, o.model, encoder, examples, o);
      const n = examples.length;
      const k = labels.length;
      const stats = columnStats(raw, n, d);
      const x = standardize(raw, n, d, stats);
      const y = headTargets(task, labels, examples);
      // λ (or a hidden layer's epochs) by the held-out log-loss: a fifth of the groups out.
      const held = examples.map((e) => hash(groupOf(e)) % 5 === 0);
      const pick = (out: boolean) => examples.flatMap((_, i) => (held[i] === out ? [i] : []));
      const [fitIdx, outIdx] = [pick(false), pick(true)];
      const fold: HeldOutFold | undefined =
        fitIdx.length > 0 && outIdx.length > 0
          ? { fit: { x: rows(x, d, fitIdx), y: rows(y, k, fitIdx), n: fitIdx.length }, out: { x: rows(x, d, outIdx), y: rows(y, k, outIdx), n: outIdx.length } }
          : undefined;
      const say = (line: string) => o.log?.(`${task}: ${line}${fold ? ` (${fold.out.n} of ${n} examples)` : ''}`);
      const data = { kind, x, y, n, d, k, fold, threads: o.threads, log: say };
      const fit = o.hidden ? await fitWithHiddenLayer(data, o.hidden, o.maxEpochs ?? 12) : await fitLinear(data, lambdas, { scoreAlways: task === 'au', extend: o.lambdas === undefined });
      // AUs are scored by F1: each gets the threshold F1 calls for, from the held-out fold's scores of the fit kept.
      const thresholds = task === 'au' && fit.heldOutScores && fold ? f1Thresholds(fit.heldOutScores, fold.out.y, fold.out.n, k) : undefined;
      // The standardization folds into the first layer: the output layer's own where there is no hidden one.
      const head: LabelHead = fit.hidden
        ? { kind, labels, matrix: Float32Array.from(fit.output.w), bias: Float32Array.from(fit.output.b), hiddenLayer: foldStandardization(fit.hidden, stats) }
        : { kind, labels, ...foldStandardization(fit.output, stats) };
      heads.set(task, thresholds ? { ...head, thresholds } : head);
      reports.push({ task, kind, labels, examples: n, images: new Set(examples.map(imageOf)).size, heldOut: fit.heldOut, ...fit.chosen, ...(thresholds && { thresholds }) });
    }
  } finally {
    await releaseLogisticSessions();
  }
  return { weight: o.weight ?? 0.5, heads, reports };
}

/**
 * Stores heads in the model directory `dir`: label_heads.safetensors, then config.json's `label_heads` (a reader
 * finds the model with its old heads or its new). Heads it has for other tasks are kept: they read the same encoder.
 * `weight` is the stored heads' share of the pooled decision: the model's `label_heads.weight` when it had no heads,
 * else theirs alone where it differs from the model's.
 */
export async function storeLabelHeads(dir: string, heads: ReadonlyMap<HeadTask, LabelHead>, weight: number): Promise<LabelHeadSet> {
  const config = await readModelDirConfig(dir);
  const existing = LabelHeads.load(dir, config.label_heads, visionWidth(config.face_llava.vision));
  const kept = existing?.entries() ?? [];
  const shared = existing?.weight ?? weight;
  const stored = [...heads].map(([task, head]): [HeadTask, LabelHead] => {
    const { weight: _own, ...rest } = head;
    return [task, weight === shared ? rest : { ...rest, weight }];
  });
  const set: LabelHeadSet = { weight: shared, heads: new Map([...kept.filter(([task]) => !heads.has(task)), ...stored]) };
  writeLabelHeads(dir, set);
  await writeModelDirConfig(dir, { ...config, label_heads: labelHeadsConfig(set) });
  return set;
}
