// Fine-tunes one network of a model's npm encoder through its own classifier head, on the face crops of
// FaceInstruct folders, so that its map — the model's tokens — carries more of what the head tells apart.
//
// Why: the default model reads FER2013 no better than a linear probe of its frozen encoder (train 0.577, held out
// 0.547, probe 0.583), and human's `emotion` net, though trained on FER2013's own train split, reads our crops of
// it at 0.46–0.52 (scripts/probe-zoom.ts): it was trained on FER2013's 48 px framing, not on the face expert's.
//
//   npx tsx scripts/tune-network.ts --model models/default --network emotion \
//     --data fi/fer2013-expression [--data fi/ckplus-expression] --val fi/fer2013-val --out runs/emotion-tuned \
//     [--epochs 4] [--lr 5e-4] [--batch 64] [--threads 2] [--limit N] [--dtype float16]
//
// Every crop is fed exactly as the model's encoder feeds that network (the model's preprocessing, then the
// network's centre, size and colours: npm-encoder.ts's networkInput), computed once and held in memory (n × C × s²
// floats: FER2013's train split is 0.44 GB for emotion, 4 GB for face_expression); training adds a mirror image
// (p = 0.5) and a shift of up to 2 px. The loss is the cross-entropy of the head's scores over the samples whose
// label is one of its classes (others are skipped). Each epoch prints the head's accuracy on --val (never trained
// on) and on as many training crops. Writes to --out the model with the network tuned (src/model/tuned.ts:
// `"tuned": true` on its entry, its weights in the checkpoint, the head's left out, the run in `tuned_from`), to be
// trained with `face-llava train --init <out>` so that the projector learns the new tokens.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Graph } from '../src/graph/graph.js';
import { hostTensor, i64 } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { cosineLr } from '../src/graph/optim.js';
import { compile } from '../src/graph/session.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { rgbFromSharp } from '../src/face/rgb.js';
import { preprocessFrames } from '../src/model/preprocess.js';
import { readModelDirConfig, type NpmEncoderSpec } from '../src/model/pretrained.js';
import { encoderEntry, saveTunedModel, tunedWeights } from '../src/model/tuned.js';
import { tunableNetwork } from '../src/model/vision/npm-encoder.js';
import { mulberry32, shuffleInPlace } from '../src/util/random.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/default' },
    network: { type: 'string', default: 'emotion' },
    data: { type: 'string', multiple: true },
    val: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string', default: '4' },
    lr: { type: 'string', default: '5e-4' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    limit: { type: 'string' },
    seed: { type: 'string', default: '1' },
    dtype: { type: 'string' },
  },
});
if (!a.data?.length || !a.val || !a.out) throw new Error('--data <folder>… --val <folder> --out <dir> are required');
const [epochs, peakLr, batch, threads, seed] = [Number(a.epochs), Number(a.lr), Number(a.batch), Number(a.threads), Number(a.seed)];

const config = await readModelDirConfig(resolve(a.model));
const ref = encoderEntry(config.encoder as NpmEncoderSpec, a.network);
if (!ref) throw new Error(`${a.model}'s encoder has no network ${a.network}`);
const net = await tunableNetwork(ref);
// A network the model has tuned before starts from the model's weights, not the package's.
const initial = new Map([...net.weights, ...(await tunedWeights(a.model, a.network, net.weights.keys()))]);
const [channels, size] = [net.inputShape[0], net.inputShape[1]];
const plane = channels * size * size;

/** The labelled crops of FaceInstruct folders, [path, class index], labels outside the head's classes skipped. */
async function samples(dirs: readonly string[]): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  for (const dir of dirs.map((d) => resolve(d))) {
    for (const file of (await readdir(dir)).filter((f) => /^shard-\d+\.jsonl$/.test(f)).sort()) {
      for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
        if (!line.trim()) continue;
        const row = JSON.parse(line) as { image?: string; label?: unknown };
        const k = net.classes.indexOf(String(row.label));
        if (row.image && k >= 0) out.push([resolve(dir, row.image), k]);
      }
    }
  }
  return out;
}

/** Each crop as the network's input, in one array [n, C, s, s]: the model's preprocessing, then networkInput. */
async function inputs(list: ReadonlyArray<[string, number]>): Promise<Float32Array> {
  const g = new Graph('tune_inputs');
  const frames = g.input('pixel_values', 'float32', ['frames', 3, config.preprocess.image_size, config.preprocess.image_size]);
  g.output('x', net.input(frames, ref!.zoom));
  const session = await compile(g, { params: 'initializers', threads, noCache: true });
  const out = new Float32Array(list.length * plane);
  try {
    for (let i = 0; i < list.length; i += 32) {
      const crops = await Promise.all(list.slice(i, i + 32).map(([path]) => rgbFromSharp(sharp(path))));
      const x = (await session.run({ pixel_values: await preprocessFrames(crops, config.preprocess) })).x;
      out.set(x.data as Float32Array, i * plane);
    }
  } finally {
    await session.release();
  }
  return out;
}

const random = mulberry32(seed);
let train = shuffleInPlace(await samples(a.data), random);
if (a.limit) train = train.slice(0, Number(a.limit));
const val = await samples([a.val]);
let t0 = Date.now();
const [xTrain, xVal] = [await inputs(train), await inputs(val)];
console.log(`${train.length} training crops, ${val.length} validation crops as ${a.network}'s input [${net.inputShape.join(', ')}] in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

/** One training example: mirrored with p = 0.5, shifted by up to 2 px each way (edges repeated). */
function augment(source: Float32Array, at: number, target: Float32Array, to: number): void {
  const flip = random() < 0.5;
  const [dx, dy] = [Math.floor(random() * 5) - 2, Math.floor(random() * 5) - 2];
  const clamp = (v: number) => Math.min(size - 1, Math.max(0, v));
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      const row = at + (c * size + clamp(y + dy)) * size;
      for (let x = 0; x < size; x++) {
        const sx = clamp(x + dx);
        target[to + (c * size + y) * size + x] = source[row + (flip ? size - 1 - sx : sx)];
      }
    }
  }
}

// Training graph: the network's input and labels → the head's scores → cross-entropy; every weight trained.
const g = new Graph('tune_network');
const x = g.input('x', 'float32', ['batch', ...net.inputShape]);
const labels = g.input('labels', 'int64', ['batch']);
const loss = ops.crossEntropy(net.build(x).logits, labels);
const steps = Math.floor(train.length / batch) * epochs;
const schedule = { peakLr, warmupSteps: Math.max(1, Math.round(steps * 0.03)), totalSteps: steps };
const step = await createTrainStep(g, { loss, weights: (name) => initial.get(name), lr: (s) => cosineLr(schedule, s), threads });

/** The head's accuracy over `n` crops of `xs` with the current weights. */
async function accuracy(xs: Float32Array, list: ReadonlyArray<[string, number]>): Promise<number> {
  const e = new Graph('tune_eval');
  const input = e.input('x', 'float32', ['batch', ...net.inputShape]);
  e.output('logits', net.build(input).logits);
  const weights = step.parameters();
  const session = await compile(e, { params: 'initializers', weights: (name) => weights[name], threads, noCache: true });
  let right = 0;
  try {
    for (let i = 0; i < list.length; i += 256) {
      const n = Math.min(256, list.length - i);
      const out = (await session.run({ x: hostTensor('float32', [n, ...net.inputShape], xs.slice(i * plane, (i + n) * plane)) })).logits.data as Float32Array;
      const k = net.classes.length;
      for (let j = 0; j < n; j++) {
        const row = out.subarray(j * k, (j + 1) * k);
        if (row.indexOf(Math.max(...row)) === list[i + j][1]) right++;
      }
    }
  } finally {
    await session.release();
  }
  return right / list.length;
}

const probe = Math.min(val.length, train.length);
const report: Array<Record<string, number>> = [];
const measure = async (epoch: number, meanLoss: number) => {
  const [v, t] = [await accuracy(xVal, val), await accuracy(xTrain.subarray(0, probe * plane), train.slice(0, probe))];
  report.push({ epoch, loss: meanLoss, val_accuracy: v, train_accuracy: t });
  console.log(`epoch ${epoch}: loss ${meanLoss.toFixed(4)}, head accuracy val ${v.toFixed(4)} (${val.length}), train ${t.toFixed(4)} (${probe})`);
};
await measure(0, NaN);

const order = train.map((_, i) => i);
const xb = new Float32Array(batch * plane);
for (let epoch = 1; epoch <= epochs; epoch++) {
  shuffleInPlace(order, random);
  let [sum, n] = [0, 0];
  t0 = Date.now();
  for (let b = 0; b + batch <= order.length; b += batch) {
    const yb: number[] = [];
    for (let j = 0; j < batch; j++) {
      const i = order[b + j];
      augment(xTrain, i * plane, xb, j * plane);
      yb.push(train[i][1]);
    }
    const r = await step.step({ x: hostTensor('float32', [batch, ...net.inputShape], xb), labels: i64([batch], yb) });
    sum += r.loss;
    n++;
    if (n % 100 === 0) console.log(`  epoch ${epoch} update ${n}: loss ${(sum / n).toFixed(4)}, lr ${r.lr.toExponential(2)}, ${((Date.now() - t0) / n).toFixed(0)} ms/update`);
  }
  await measure(epoch, sum / n);
}

const tuned = new Map(Object.entries(step.parameters()).filter(([name]) => !net.headWeights.has(name)));
await step.release();
const record = { data: a.data.map((d) => resolve(d)), val: resolve(a.val), epochs, lr: peakLr, batch, seed, crops: train.length, epochs_measured: report };
const dir = await saveTunedModel(a.model, a.out, a.network, tuned, record, { dtype: a.dtype as 'float16' | 'bfloat16' | undefined });
console.log(`wrote ${dir}: ${a.model} with ${a.network} tuned (${tuned.size} tensors); train it with \`face-llava train --init ${a.out}\``);
