// Tuning a network of an npm encoder (scripts/tune-network.ts): the network with its own classifier head must be
// the package's network (its scores are human's emotion output before the softmax), its weights must train, and a
// model that marks the network `"tuned": true` must read those weights from its own checkpoint, not the package.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.js';
import { f32, i64, numel, type HostTensor } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { openSafetensors } from '../src/graph/safetensors.js';
import { compile } from '../src/graph/session.js';
import { compileImported, importTfjsModel, loadTfjsModel, readFaceApiModel } from '../src/graph/tfjs-import.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { readModelDirConfig, savePretrained } from '../src/model/pretrained.js';
import { saveTunedModel, tunedWeights } from '../src/model/tuned.js';
import { resolveNpmEncoder, tunableNetwork, type TunableNetwork } from '../src/model/vision/npm-encoder.js';
import { mulberry32 } from '../src/util/random.js';
import { relativeError } from './helpers/error.js';
import { encodingGap, randomWeights, tinyNpmConfig } from './helpers/tiny-model.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const EMOTION = { package: '@vladmandic/human', model: 'emotion', layer: 'StatefulPartitionedCall/model_1/add_2/add', input_size: 64 };
const SOFTMAX = 'StatefulPartitionedCall/model_1/predictions/Softmax';
const FACE_EXPRESSION = { package: '@vladmandic/face-api', model: 'face_expression', layer: 'dense3/out', input_size: 112 };
const root = mkdtempSync(join(tmpdir(), 'face-llava-tuned-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Smooth gray images [n, 1, 64, 64] in −1..1, different per image. */
function grayImages(n: number, seed: number): HostTensor {
  const random = mulberry32(seed);
  const data = new Float32Array(n * 64 * 64);
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [random() * 0.2, random() * 0.2, random() * 6];
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) data[(i * 64 + y) * 64 + x] = Math.sin(a * x + b * y + c) * 0.8;
  }
  return f32([n, 1, 64, 64], data);
}

/** The softmax of each row of k scores. */
function softmaxRows(logits: Float32Array, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += k) {
    const row = logits.subarray(i, i + k);
    const top = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - top), 0);
    row.forEach((v, j) => (out[i + j] = Math.exp(v - top) / sum));
  }
  return out;
}

/** The network's map and scores for its input, its weights from `weights`. */
async function run(net: TunableNetwork, x: HostTensor, weights: (name: string) => HostTensor | undefined): Promise<{ map: HostTensor; logits: HostTensor }> {
  const g = new Graph('tuned_test');
  const out = net.build(g.input('x', 'float32', ['batch', ...net.inputShape]));
  g.output('map', out.map);
  g.output('logits', out.logits);
  const session = await compile(g, { params: 'initializers', weights, threads: 2, noCache: true });
  try {
    const r = await session.run({ x });
    return { map: r.map, logits: r.logits };
  } finally {
    await session.release();
  }
}

describe('tuning an npm network through its head', () => {
  let net: TunableNetwork;
  beforeAll(async () => {
    net = await tunableNetwork(EMOTION);
  });

  it('builds human\'s emotion net with its head: the scores are its softmax\'s input, the map its add_2', async () => {
    expect(net.classes).toEqual(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
    expect(net.inputShape).toEqual([1, 64, 64]);
    // The head is one 3×3 convolution to the seven classes: its kernel and bias, and nothing the map reads.
    expect([...net.headWeights].map((n) => numel(net.weights.get(n)!.shape)).sort((p, q) => p - q)).toEqual([7, 3 * 3 * 256 * 7]);
    const encoder = await resolveNpmEncoder({ kind: 'npm', ...EMOTION });
    for (const name of net.headWeights) expect(encoder.weights!.tensors.has(name)).toBe(false);
    expect(encoder.weights!.tensors.size + net.headWeights.size).toBe(net.weights.size);

    const x = grayImages(3, 1);
    const ours = await run(net, x, (name) => net.weights.get(name));
    expect(ours.map.shape).toEqual([3, 256, 8, 8]);
    expect(ours.logits.shape).toEqual([3, 7]);
    const imported = importTfjsModel(await loadTfjsModel(join(ROOT, 'node_modules/@vladmandic/human/models/emotion.json')), { outputs: [SOFTMAX] });
    const session = await compileImported(imported, { threads: 2 });
    const nhwc = f32([3, 64, 64, 1], x.data as Float32Array); // one channel: NCHW and NHWC hold the same values
    const theirs = (await session.run({ [imported.inputs[0].name]: nhwc }))[SOFTMAX].data as Float32Array;
    await session.release();
    expect(relativeError(softmaxRows(ours.logits.data as Float32Array, 7), theirs)).toBeLessThan(1e-5);
  });

  it('trains: a few AdamW updates on one batch lower its cross-entropy, and move the map\'s weights, not only the head\'s', async () => {
    const g = new Graph('tuned_train_test');
    const x = g.input('x', 'float32', ['batch', 1, 64, 64]);
    const labels = g.input('labels', 'int64', ['batch']);
    const loss = ops.crossEntropy(net.build(x).logits, labels);
    const step = await createTrainStep(g, { loss, weights: (name) => net.weights.get(name), lr: 1e-3, threads: 2 });
    const batch = { x: grayImages(8, 2), labels: i64([8], [0, 1, 2, 3, 4, 5, 6, 0]) };
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) losses.push((await step.step(batch)).loss);
    expect(losses[5]).toBeLessThan(losses[0] * 0.8);
    const after = step.parameters();
    const mapWeight = [...net.weights.keys()].find((n) => !net.headWeights.has(n) && net.weights.get(n)!.shape.length === 4)!;
    expect(relativeError(after[mapWeight].data as Float32Array, net.weights.get(mapWeight)!.data as Float32Array)).toBeGreaterThan(1e-4);
    await step.release();
  });

  it('builds face-api\'s expression net with its head: the scores are the input of its probabilities\' softmax', async () => {
    const expression = await tunableNetwork(FACE_EXPRESSION);
    expect(expression.classes).toEqual(['neutral', 'happy', 'sad', 'angry', 'fear', 'disgust', 'surprise']);
    expect(expression.inputShape).toEqual([3, 112, 112]);
    const random = mulberry32(4);
    const nhwc = new Float32Array(2 * 112 * 112 * 3).map(() => random() * 255);
    const nchw = new Float32Array(nhwc.length);
    for (let f = 0; f < 2; f++) for (let p = 0; p < 112 * 112; p++) for (let c = 0; c < 3; c++) nchw[(f * 3 + c) * 112 * 112 + p] = nhwc[(f * 112 * 112 + p) * 3 + c];
    const ours = await run(expression, f32([2, 3, 112, 112], nchw), (name) => expression.weights.get(name));
    const imported = importTfjsModel((await readFaceApiModel(join(ROOT, 'node_modules/@vladmandic/face-api/model'), 'face_expression')).artifacts, { outputs: ['probabilities'] });
    const session = await compileImported(imported, { threads: 2 });
    const theirs = (await session.run({ [imported.inputs[0].name]: f32([2, 112, 112, 3], nhwc) })).probabilities.data as Float32Array;
    await session.release();
    expect(relativeError(softmaxRows(ours.logits.data as Float32Array, 7), theirs)).toBeLessThan(1e-5);
  });

  it('refuses a network without a head', async () => {
    const faceres = { package: '@vladmandic/human', model: 'faceres', layer: 'conv_pw_13_relu/clip_by_value', input_size: 224 };
    await expect(tunableNetwork(faceres)).rejects.toThrow(/faceres .* has no classifier head to tune .*emotion/);
  });
});

describe('a model with a tuned network', () => {
  it('reads the network\'s weights from its checkpoint, records the tuning, and refuses a partial network', async () => {
    const config = tinyNpmConfig({ kind: 'npm', ...EMOTION }, { channels: 256, grid: 8, inputSize: 64 });
    const encoder = await resolveNpmEncoder(config.encoder as never);
    const own = encoder.weights!.tensors;
    const base = await savePretrained(join(root, 'base'), { config, weights: randomWeights(config, 9, encoder) });
    expect(await tunedWeights(base, 'emotion', own.keys())).toEqual(new Map());

    // "Tuned" weights: the package's, scaled, so that the map differs measurably.
    const net = await tunableNetwork(EMOTION);
    const scaled = new Map(
      [...net.weights].filter(([n]) => !net.headWeights.has(n)).map(([n, t]) => [n, f32(t.shape, Array.from(t.data as Float32Array, (v) => v * 1.05))]),
    );
    const tuned = await saveTunedModel(base, join(root, 'tuned'), 'emotion', scaled, { epochs: 1 });
    const cfg = (await readModelDirConfig(tuned)) as unknown as { encoder: { tuned?: boolean }; tuned_from: Record<string, unknown> };
    expect(cfg.encoder.tuned).toBe(true);
    expect(cfg.tuned_from).toEqual({ model: base, network: 'emotion', epochs: 1 });
    const stored = openSafetensors(join(tuned, 'model.safetensors')).tensors;
    for (const name of scaled.keys()) expect(stored.has(name)).toBe(true);
    expect((await tunedWeights(tuned, 'emotion', own.keys())).size).toBe(scaled.size);

    // The resolver no longer supplies the network's weights; loading takes the checkpoint's, and the map follows.
    const resolved = await resolveNpmEncoder({ kind: 'npm', ...EMOTION, tuned: true } as never);
    expect(resolved.weights!.tensors.size).toBe(0);
    const frames = f32([1, 3, 64, 64], Array.from({ length: 3 * 64 * 64 }, (_, i) => (i * 7) % 255));
    expect(await encodingGap(base, tuned, frames)).toBeGreaterThan(1e-3);

    // A network with a tensor missing, or with its head's, does not make a model.
    const missing = new Map([...scaled].slice(1));
    await expect(saveTunedModel(base, join(root, 'partial'), 'emotion', missing, {})).rejects.toThrow(/missing/i);
    const withHead = new Map([...scaled, ...[...net.headWeights].map((n) => [n, net.weights.get(n)!] as const)]);
    await expect(saveTunedModel(base, join(root, 'head'), 'emotion', withHead, {})).rejects.toThrow(/unexpected/i);
    await expect(saveTunedModel(base, join(root, 'other'), 'faceres', scaled, {})).rejects.toThrow(/has no network faceres/);
  });
});
