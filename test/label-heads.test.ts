// Label heads: each task's label read linearly off the pooled encoder features, fitted to the training records,
// stored beside the model and pooled into the decision rule when the model answers its task's question.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { f32 } from '../src/graph/host.js';
import { rgbFromSharp, type RgbImage } from '../src/face/rgb.js';
import { expressionOpenings } from '../src/data/annotators/offline.js';
import { headProbabilities, LABEL_HEADS_FILE, LabelHeads, meanRows, writeLabelHeads } from '../src/model/label-heads.js';
import { loadPretrained, parseModelDirConfig, readModelDirConfig, writeModelDirConfig, type ModelDirConfigInput } from '../src/model/pretrained.js';
import { answerQuestions } from '../src/pipeline/generation.js';
import { encoderExtractor } from '../src/train/extractor.js';
import { ageSpread, DEFAULT_LAMBDAS, f1Thresholds, fitLabelHeads, LAMBDA_RANGE, foldStandardization, headLabels, headTargets, logLoss, storeLabelHeads } from '../src/train/label-heads.js';
import { fitHiddenHead, hiddenHeadScores } from '../src/train/hidden-head.js';
import { columnStats, fitLogistic, linearScores, standardize } from '../src/train/logistic.js';
import { train } from '../src/train/trainer.js';
import { buildProgram } from '../src/cli/main.js';
import { expressionFolder, LANDMARKS, poolingEncoder, TINY_MODEL_CONFIG } from './helpers/train-data.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'face-llava-heads-'));

const pooling = poolingEncoder;
const CONFIG: Omit<ModelDirConfigInput, 'tasks'> = { ...TINY_MODEL_CONFIG, mirror: true };

const WARM = (k: number) => ({ r: 220, g: 140 + 8 * (k % 6), b: 40 });
const COOL = (k: number) => ({ r: 40, g: 90, b: 160 + 10 * (k % 6) });
const plain = (colour: { r: number; g: number; b: number }) => sharp({ create: { width: 256, height: 256, channels: 3, background: colour } });

/** Happy faces warm, sad faces cool: a pooled colour tells them apart. */
const colourData = (n: number): Promise<string> =>
  expressionFolder(n, async (k, happy, media) => {
    await plain(happy ? WARM(k) : COOL(k)).png().toFile(path.join(media, `${k}.png`));
    return { image: `${k}.png`, answer: happy ? 'The person looks happy.' : 'The person looks sad.', landmarks: LANDMARKS };
  });

/**
 * Crops' features as inference pools them for the heads: the tokens of each crop and of its mirror, averaged over
 * the grid and the two, [C] a crop.
 */
async function pooledAsInference(crops: readonly RgbImage[]): Promise<Float32Array[]> {
  const extractors = await Promise.all([false, true].map((mirrored) => encoderExtractor(parseConfig(), { encoder: pooling(), mirrored })));
  try {
    const [a, b] = await Promise.all(extractors.map((e) => e.encode(crops)));
    const rows = (t: typeof a, f: number) => Array.from((t.data as Float32Array).subarray(f * 16, (f + 1) * 16));
    return crops.map((_, f) => meanRows(f32([8, 4], [...rows(a, f), ...rows(b, f)])));
  } finally {
    await Promise.all(extractors.map((e) => e.release()));
  }
}

describe('linear models for label heads', () => {
  it('fit separable classes and labels, and the folded standardization reads raw features as the fit read standardized ones', async () => {
    // Two classes by the sign of x0 − x1, on features of very different scales.
    const n = 60;
    const d = 3;
    const x = new Float32Array(n * d);
    const y = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const [a, b] = [Math.sin(i * 1.7) * 3, Math.cos(i * 0.9) * 3];
      x.set([100 + 40 * a, b, 0.01 * i], i * d);
      y[i * 2 + (a > b / 40 ? 0 : 1)] = 1;
    }
    const stats = columnStats(x, n, d);
    const xs = standardize(x, n, d, stats);
    const model = await fitLogistic('softmax', xs, y, n, d, 2, 1e-3);
    const z = linearScores(model, xs, n);
    const right = Array.from({ length: n }, (_, i) => (z[i * 2] > z[i * 2 + 1] ? 0 : 1) === (y[i * 2] ? 0 : 1)).filter(Boolean).length;
    expect(right).toBeGreaterThanOrEqual(57);
    expect(logLoss('softmax', z, y, n, 2)).toBeLessThan(0.2);
    const folded = foldStandardization(model, stats);
    for (let i = 0; i < n; i++) {
      const p = headProbabilities({ kind: 'softmax', labels: ['a', 'b'], ...folded }, x.subarray(i * d, (i + 1) * d));
      const e = [Math.exp(z[i * 2]), Math.exp(z[i * 2 + 1])];
      expect(p[0]).toBeCloseTo(e[0] / (e[0] + e[1]), 4);
    }
    // The penalty shrinks the weights: the strongest λ gives the flattest fit.
    const flat = await fitLogistic('softmax', xs, y, n, d, 2, 10);
    expect(Math.max(...flat.w.map(Math.abs))).toBeLessThan(Math.max(...model.w.map(Math.abs)));
  });
});

describe('a label head with a hidden layer', () => {
  it('separates classes no linear reader can (XOR), as softmax or sigmoids, and reads raw features once folded', async () => {
    // Four clusters: class 1 where x0 and x1 have the same sign; a third feature on another scale, constant noise.
    const n = 400;
    const d = 3;
    const x = new Float32Array(n * d);
    const y = new Float32Array(n * 2);
    const yes = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const [a, b] = [i % 2 ? 1 : -1, i % 4 < 2 ? 1 : -1];
      x.set([a + 0.3 * Math.sin(i * 1.3), b + 0.3 * Math.cos(i * 0.7), 50 + Math.sin(i)], i * d);
      y[i * 2 + (a * b > 0 ? 1 : 0)] = 1;
      yes[i] = a * b > 0 ? 1 : 0;
    }
    const stats = columnStats(x, n, d);
    const xs = standardize(x, n, d, stats);
    const accuracy = (z: Float64Array, k: number) =>
      Array.from({ length: n }, (_, i) => ((k === 2 ? z[i * 2 + 1] > z[i * 2] : z[i] > 0) ? 1 : 0) === yes[i]).filter(Boolean).length / n;
    const linear = await fitLogistic('softmax', xs, y, n, d, 2, 1e-3);
    expect(accuracy(linearScores(linear, xs, n), 2)).toBeLessThan(0.7);
    const epochs: number[] = [];
    const options = { hidden: 16, epochs: 60, dropout: 0, batch: 40, lr: 1e-2, weightDecay: 0, threads: 2 };
    const mlp = await fitHiddenHead('softmax', xs, y, n, d, 2, { ...options, onEpoch: (e) => void epochs.push(e) });
    expect(epochs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(accuracy(await hiddenHeadScores(mlp, xs, n, 2), 2)).toBeGreaterThan(0.95);
    const sigmoid = await fitHiddenHead('sigmoid', xs, yes, n, d, 1, options);
    expect(accuracy(await hiddenHeadScores(sigmoid, xs, n, 2), 1)).toBeGreaterThan(0.95);
    // Stored as a head: the standardization folded into the hidden layer, raw features in.
    const head = { kind: 'softmax' as const, labels: ['no', 'yes'], matrix: Float32Array.from(mlp.output.w), bias: Float32Array.from(mlp.output.b), hiddenLayer: foldStandardization(mlp.hidden, stats) };
    const z = await hiddenHeadScores(mlp, xs, n, 2);
    for (const i of [0, 1, 2, 3, 101]) {
      const p = headProbabilities(head, x.subarray(i * d, (i + 1) * d));
      expect(p[1]).toBeCloseTo(1 / (1 + Math.exp(z[i * 2] - z[i * 2 + 1])), 4);
    }
  }, 60_000);
});

describe('label heads of a model', () => {
  let data: string;
  let model: string;
  let cache: string;
  beforeAll(async () => {
    data = await colourData(24);
    const root = tmp();
    cache = path.join(root, 'cache');
    await train({ data: [data], out: path.join(root, 'run'), cache, stages: ['pretrain'], config: CONFIG, resolveEncoder: pooling, epochs: 1, maxSteps: 2, batch: 4, lr: 1e-3, checkpointEvery: 2, threads: 2 });
    model = path.join(root, 'run', 'model');
  }, 120_000);

  it('are fitted to the training records on the features the model pools, and stored beside it', async () => {
    const lines: string[] = [];
    const fitted = await fitLabelHeads({ model, data: [data], cache, resolveEncoder: pooling, lambdas: [0.1, 0.001], threads: 2, log: (l) => lines.push(l) });
    const head = fitted.heads.get('expression')!;
    expect(head.labels).toEqual(['happy', 'sad']); // the expressions the data labels, in EXPRESSIONS' order
    expect(fitted.reports[0]).toMatchObject({ task: 'expression', examples: 20, images: 20 }); // 4 of 24 records are val
    expect(fitted.reports[0].heldOut.map((h) => h.lambda)).toEqual([0.1, 0.001]);
    expect(lines.some((l) => l.startsWith('encoding mirrored crops'))).toBe(true); // the model reads faces with their mirror

    // Read as inference reads: tokens of each crop and its mirror, averaged over the grid and the two.
    const rows = await pooledAsInference([await rgbFromSharp(plain(WARM(1)).removeAlpha()), await rgbFromSharp(plain(COOL(2)).removeAlpha())]);
    const pooled = (f: number) => rows[f];
    expect(headProbabilities(head, pooled(0))[0]).toBeGreaterThan(0.8); // warm: happy
    expect(headProbabilities(head, pooled(1))[1]).toBeGreaterThan(0.8); // cool: sad

    await storeLabelHeads(model, fitted.heads, 0.5);
    expect((await readModelDirConfig(model)).label_heads).toEqual({ weight: 0.5, heads: { expression: { kind: 'softmax', labels: ['happy', 'sad'] } } });
    const loaded = LabelHeads.load(model, (await readModelDirConfig(model)).label_heads, 4)!;
    expect(Array.from(loaded.probabilities('expression', pooled(0))!)).toEqual(Array.from(headProbabilities(head, pooled(0))));
    expect(loaded.probabilities('age', pooled(0))).toBeUndefined();
  });

  it('read the age off the features as a distribution over the ages the data labels, its median near the age', async () => {
    // Ages 20, 25, …, 75, twice each; the grey level says the age, so a pooled colour reads it.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'face-llava-ages-'));
    const ages = Array.from({ length: 24 }, (_, k) => 20 + 5 * (k % 12));
    const grey = (age: number) => ({ r: 3 * age, g: 3 * age, b: 3 * age });
    const lines = await Promise.all(
      ages.map(async (age, k) => {
        await plain(grey(age)).png().toFile(path.join(dir, `${k}.png`));
        const answer = `The person appears to be about ${age} years old.`;
        const conversations = [{ from: 'human', value: '<image>\nHow old is this person?' }, { from: 'gpt', value: answer }];
        return JSON.stringify({ id: `a${k}`, image: `${k}.png`, conversations, landmarks_2d: LANDMARKS, task: 'age', label: age, source: 'synthetic', split: 'train', subject: null });
      }),
    );
    writeFileSync(path.join(dir, 'shard-00000.jsonl'), lines.join('\n') + '\n');
    const fitted = await fitLabelHeads({ model, data: [dir], cache, resolveEncoder: pooling, tasks: ['age'], lambdas: [0.001], threads: 2 });
    const head = fitted.heads.get('age')!;
    expect(head.kind).toBe('softmax');
    expect(head.labels).toEqual(Array.from({ length: 12 }, (_, i) => String(20 + 5 * i)));
    const median = async (age: number) => {
      const [features] = await pooledAsInference([await rgbFromSharp(plain(grey(age)).removeAlpha())]);
      const p = headProbabilities(head, features);
      let cumulative = 0;
      return Number(head.labels[Array.from(p).findIndex((v) => (cumulative += v) >= 0.5)]);
    };
    for (const age of [25, 50, 70]) expect(Math.abs((await median(age)) - age)).toBeLessThanOrEqual(5);
  });

  it('go on past an end of the default λ grid that scores best, for as long as the held-out loss falls', async () => {
    const fitted = await fitLabelHeads({ model, data: [data], cache, resolveEncoder: pooling, threads: 2 });
    const report = fitted.reports[0];
    const tried = report.heldOut.map((h) => h.lambda!);
    expect(tried.slice(0, DEFAULT_LAMBDAS.length)).toEqual(DEFAULT_LAMBDAS);
    const lowest = report.heldOut.reduce((b, r) => (r.logLoss < b.logLoss ? r : b));
    expect(report.lambda).toBe(lowest.lambda);
    // Each λ past the grid was tried because the one before it scored best so far, a tenth (or ten times) of it.
    for (let i = DEFAULT_LAMBDAS.length; i < tried.length; i++) {
      const before = report.heldOut.slice(0, i).reduce((b, r) => (r.logLoss < b.logLoss ? r : b)).lambda!;
      expect([before / 10, before * 10].some((l) => Math.abs(l - tried[i]) < 1e-12 * l)).toBe(true);
    }
    // And it stops where the loss turns, or at the range's end. The two colours are told apart by any λ but the
    // strongest, so the weak end scores best and the grid goes on past it.
    expect(tried.length).toBeGreaterThan(DEFAULT_LAMBDAS.length);
    const last = report.heldOut[report.heldOut.length - 1];
    expect(last.logLoss > lowest.logLoss || last.lambda === LAMBDA_RANGE.min || last.lambda === LAMBDA_RANGE.max).toBe(true);
  });

  it('choose the expression an answer opens with, pooled with the decoder; refused when they do not fit the model', async () => {
    // Heads sure of the opposite of the colours, so that the choice can only be theirs.
    const fitted = await fitLabelHeads({ model, data: [data], cache, resolveEncoder: pooling, lambdas: [0.01], threads: 2 });
    const head = fitted.heads.get('expression')!;
    const flipped = { ...head, matrix: head.matrix.map((w) => -50 * w), bias: head.bias.map((b) => -50 * b) };
    const dir = path.join(tmp(), 'model');
    await cp(model, dir, { recursive: true });
    writeLabelHeads(dir, { weight: 1, heads: new Map([['expression', flipped]]) });
    await writeModelDirConfig(dir, { ...(await readModelDirConfig(dir)), label_heads: { weight: 1, heads: { expression: { kind: 'softmax', labels: head.labels } } } });

    const pretrained = await loadPretrained(dir, { resolveEncoder: pooling, threads: 2 });
    try {
      const media = { kind: 'image' as const, crops: [await rgbFromSharp(plain(WARM(3)).removeAlpha())], landmarks: [LANDMARKS.map(([x, y]) => [x, y] as [number, number])] };
      const ask = (o: { labelHeads?: boolean; headWeight?: number }) =>
        answerQuestions(pretrained, [{ media, instruction: 'What emotion does this face show?', task: 'expression' }], { maxNewTokens: 24, ...o });
      const sad = expressionOpenings('sad', 'image');
      const { generations: [headed], headReadings: [reading] } = await ask({});
      expect(sad.some((opening) => headed.text.startsWith(opening))).toBe(true);
      // The head's own reading comes back with the answer: p_head per label.
      expect(Object.keys(reading!)).toEqual(['happy', 'sad']);
      expect(reading!.sad).toBeGreaterThan(0.99);
      // w = 0: the decoder's own choice among the heads' classes, still a whole opening.
      const { generations: [own] } = await ask({ headWeight: 0 });
      expect([...sad, ...expressionOpenings('happy', 'image')].some((opening) => own.text.startsWith(opening))).toBe(true);
      // Without the heads the expression is sampled: no opening is forced (the barely trained decoder writes anything).
      const { generations: [bare], headReadings: [none] } = await ask({ labelHeads: false });
      expect(bare.text).not.toBe(headed.text);
      expect(none).toBeUndefined();
    } finally {
      await pretrained.dispose();
    }

    // A head whose width is not the encoder's, or a config naming a file that is missing, is refused at load.
    writeLabelHeads(dir, { weight: 1, heads: new Map([['expression', { ...head, matrix: new Float32Array(3 * 2) }]]) });
    await expect(loadPretrained(dir, { resolveEncoder: pooling })).rejects.toThrow(/the expression head is \[3, 2\] \+ \[2\], want \[4, 2\]/);
    rmSync(path.join(dir, LABEL_HEADS_FILE));
    await expect(loadPretrained(dir, { resolveEncoder: pooling })).rejects.toThrow(/label_heads\.safetensors is missing/);
  }, 60_000);

  it('may read the features through a hidden layer, its epochs chosen on the held-out fold, and store it', async () => {
    const fitted = await fitLabelHeads({ model, data: [data], cache, resolveEncoder: pooling, hidden: 6, maxEpochs: 3, threads: 2 });
    const [report] = fitted.reports;
    expect(report).toMatchObject({ task: 'expression', hidden: 6 });
    expect(report.heldOut.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(report.epochs).toBe(report.heldOut.reduce((best, h) => (h.logLoss < best.logLoss ? h : best)).epoch);
    const head = fitted.heads.get('expression')!;
    expect([head.hiddenLayer!.matrix.length, head.hiddenLayer!.bias.length, head.matrix.length]).toEqual([4 * 6, 6, 6 * 2]);

    const dir = path.join(tmp(), 'hidden');
    await cp(model, dir, { recursive: true });
    await storeLabelHeads(dir, fitted.heads, 0.5);
    const stored = await readModelDirConfig(dir);
    expect(stored.label_heads!.heads.expression).toEqual({ kind: 'softmax', labels: ['happy', 'sad'], hidden: 6 });
    const loaded = LabelHeads.load(dir, stored.label_heads, 4)!;
    const features = Float32Array.of(0.9, 0.5, 0.2, 0.1);
    expect(Array.from(loaded.probabilities('expression', features)!)).toEqual(Array.from(headProbabilities(head, features)));
    // A config whose hidden width is not the file's is refused at load.
    const wrong = { ...stored.label_heads!, heads: { expression: { ...stored.label_heads!.heads.expression!, hidden: 5 } } };
    expect(() => LabelHeads.load(dir, wrong, 4)).toThrow(/the expression hidden head is \[4, 6\] \+ \[6\], want \[4, 5\]/);
  }, 60_000);

  it('are left behind by a model trained further, which reads another decoder: fitted again for it', async () => {
    const dir = path.join(tmp(), 'headed');
    await cp(model, dir, { recursive: true });
    const fitted = await fitLabelHeads({ model: dir, data: [data], cache, resolveEncoder: pooling, lambdas: [0.01], threads: 2 });
    // Storing one task's heads keeps the others the model has.
    const attributes = { kind: 'sigmoid' as const, labels: ['Smiling'], matrix: Float32Array.of(1, 2, 3, 4), bias: Float32Array.of(0.5) };
    await storeLabelHeads(dir, new Map([['attributes', attributes]]), 0.5);
    const both = await storeLabelHeads(dir, fitted.heads, 0.7);
    expect([...both.heads.keys()].sort()).toEqual(['attributes', 'expression']);
    const stored = await readModelDirConfig(dir);
    // The model's share stays; the expression head, stored at another, keeps its own.
    expect(stored.label_heads!.weight).toBe(0.5);
    expect(stored.label_heads!.heads.expression!.weight).toBe(0.7);
    expect(stored.label_heads!.heads.attributes!.weight).toBeUndefined();
    expect(Array.from(LabelHeads.load(dir, stored.label_heads, 4)!.head('attributes')!.matrix)).toEqual([1, 2, 3, 4]);
    const run = path.join(tmp(), 'run');
    await train({ data: [data], out: run, cache, stages: ['2'], init: dir, resolveEncoder: pooling, epochs: 1, maxSteps: 1, batch: 4, checkpointEvery: 1, threads: 2 });
    expect(JSON.parse(readFileSync(path.join(run, 'model', 'config.json'), 'utf8')).label_heads).toBeUndefined();
    expect(existsSync(path.join(run, 'model', LABEL_HEADS_FILE))).toBe(false);
  }, 60_000);

  it('are fitted by `face-llava heads`, which refuses a task without a head before loading anything', async () => {
    const program = buildProgram().exitOverride();
    await expect(program.parseAsync(['node', 'face-llava', 'heads', '--model', model, '--data', data, '--cache', cache, '--tasks', 'expression,caption'])).rejects.toThrow(
      /--tasks: caption has no head \(tasks with heads: expression, au, attributes, deepfake, age\)/,
    );
  });

  it('give each AU the threshold F1 calls for: half the best F1 the held-out fold reaches', () => {
    const logit = (p: number) => Math.log(p / (1 - p));
    // Label 0: best F1 0.8 (stating the top three: 2 right, 1 wrong) → 0.4. Label 1: never present → ½.
    const p = [0.9, 0.85, 0.2, 0.1, 0.1, 0.1];
    const z = Float64Array.from(p.flatMap((v) => [logit(v), logit(0.3)]));
    const y = Float32Array.from([1, 0, 1, 0, 0, 0].flatMap((v) => [v, 0]));
    const [t0, t1] = f1Thresholds(z, y, 6, 2);
    expect(t0).toBeCloseTo(0.4, 9);
    expect(t1).toBe(0.5);
  });

  it('keep the AUs enough images show, and count an image once across its augmented views', () => {
    const example = (id: string, aus: number[]) => ({ id, target: { task: 'au' as const, value: aus } }) as never;
    const examples = [
      ...Array.from({ length: 10 }, (_, i) => example(`ck/${i}.png`, [1, 12])),
      ...Array.from({ length: 9 }, (_, i) => example(`ck/a${i}.png`, [4])),
      ...Array.from({ length: 8 }, (_, i) => example(`ck/a0.png#aug${i + 1}`, [4])),
    ];
    expect(headLabels('au', examples)).toEqual(['1', '12']);
  });

  it('read real or fake as one class of two, in the order the guide states them', () => {
    const example = (id: string, value: string) => ({ id, target: { task: 'deepfake' as const, value } }) as never;
    const examples = [example('rf/a.jpg', 'fake'), example('rf/a.jpg#aug1', 'fake'), example('rf/b.jpg', 'real')];
    expect(headLabels('deepfake', examples)).toEqual(['real', 'fake']);
    expect(Array.from(headTargets('deepfake', ['real', 'fake'], examples))).toEqual([0, 1, 0, 1, 1, 0]);
    // A pack of one class cannot teach a head to tell them apart.
    expect(headLabels('deepfake', examples.slice(0, 2))).toEqual(['fake']);
  });

  it('read an age as one of the ages the data labels, each target a spread of years around the labelled age', () => {
    const example = (id: string, value: number) => ({ id, target: { task: 'age' as const, value } }) as never;
    const examples = [example('utk/a.jpg', 40), example('utk/b.jpg', 2), example('utk/c.jpg', 41), example('utk/d.jpg', 38), example('utk/e.jpg', 70)];
    const labels = headLabels('age', examples);
    expect(labels).toEqual(['2', '38', '40', '41', '70']);
    expect(ageSpread(40)).toBe(4);
    expect(ageSpread(3)).toBe(1);
    const y = headTargets('age', labels, examples);
    const row = (i: number) => Array.from(y.subarray(i * 5, (i + 1) * 5));
    for (let i = 0; i < 5; i++) expect(row(i).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    // 40 (σ 4 years): most on 40, then 41, 38, next to nothing on 2 or 70.
    const [two, a38, a40, a41, a70] = row(0);
    expect(a40).toBeGreaterThan(a41);
    expect(a41).toBeGreaterThan(a38);
    expect(a38 / a40).toBeCloseTo(Math.exp(-4 / 32), 5);
    expect(two + a70).toBeLessThan(1e-6);
    // 2 (σ 1 year) has none of its neighbours here: all its mass on itself.
    expect(row(1)[0]).toBeCloseTo(1, 6);
  });
});

const parseConfig = () => parseModelDirConfig({ ...CONFIG, tasks: ['expression'] });
