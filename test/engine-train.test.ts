// Training in-process through createTrainStep (autodiff + AdamW in one onnxruntime run per step): an MLP fits
// two interleaved spirals, a tiny causal transformer learns to reverse a token sequence, and a checkpointed
// train step resumes bit for bit.
import { describe, expect, it } from 'vitest';
import { Graph, type HostTensor, type Tensor, compile, f32, hostTensor, i64, ops } from '../src/graph/index.js';
import { cosineLr } from '../src/graph/optim.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { mulberry32 } from '../src/util/random.js';

/** Weights: uniform ±1/√fan_in for matrices [in, out], zeros for biases, ones for norm gains. */
function initWeights(g: Graph, random: () => number): Map<string, HostTensor> {
  const values = new Map<string, HostTensor>();
  for (const p of g.params) {
    const shape = p.shape as number[];
    const t = f32(shape);
    const d = t.data as Float32Array;
    if (p.name.endsWith('.gain')) d.fill(1);
    else if (shape.length >= 2) for (let i = 0; i < d.length; i++) d[i] = (2 * random() - 1) / Math.sqrt(shape[0]);
    values.set(p.name, t);
  }
  return values;
}

// ---------------------------------------------------------------- MLP on two spirals

function spirals(n: number, random: () => number): { x: HostTensor; y: HostTensor } {
  const x = f32([2 * n, 2]);
  const y = i64([2 * n]);
  const xs = x.data as Float32Array;
  const ys = y.data as BigInt64Array;
  for (let arm = 0; arm < 2; arm++) {
    for (let i = 0; i < n; i++) {
      const r = (i / n) * 2.5 + 0.2;
      const angle = (i / n) * 1.75 * 2 * Math.PI + arm * Math.PI;
      const k = arm * n + i;
      xs[2 * k] = r * Math.cos(angle) + 0.02 * (random() - 0.5);
      xs[2 * k + 1] = r * Math.sin(angle) + 0.02 * (random() - 0.5);
      ys[k] = BigInt(arm);
    }
  }
  return { x, y };
}

function mlp(g: Graph, x: Tensor): Tensor {
  let h = x;
  [2, 64, 64].forEach((width, i, widths) => {
    const out = widths[i + 1] ?? 2;
    h = ops.add(ops.matmul(h, g.param(`l${i}.w`, 'float32', [width, out])), g.param(`l${i}.b`, 'float32', [out]));
    if (i < widths.length - 1) h = ops.tanh(h);
  });
  return h;
}

function spiralModel() {
  const g = new Graph('spirals');
  const x = g.input('x', 'float32', ['n', 2]);
  const labels = g.input('labels', 'int64', ['n']);
  const logits = mlp(g, x);
  g.output('logits', logits);
  return { g, logits, loss: ops.crossEntropy(logits, labels) };
}

describe('training in-process', () => {
  it('fits two interleaved spirals with an MLP', async () => {
    const random = mulberry32(1);
    const { g, loss } = spiralModel();
    const weights = initWeights(g, random);
    const schedule = { peakLr: 0.02, warmupSteps: 20, totalSteps: 400, minLr: 0.002 };
    const train = await createTrainStep(g, {
      loss,
      weights: (n) => weights.get(n),
      groups: [{ params: g.params.filter((p) => p.name.endsWith('.b')), weightDecay: 0 }],
      optimizer: { weightDecay: 1e-4, maxGradNorm: 5 },
      lr: (s) => cosineLr(schedule, s),
    });
    const data = spirals(100, random);
    const first = await train.step({ x: data.x, labels: data.y });
    let last = first;
    for (let s = 1; s < schedule.totalSteps; s++) last = await train.step({ x: data.x, labels: data.y });
    expect(first.loss).toBeGreaterThan(0.6);
    expect(last.loss).toBeLessThan(0.03);

    // The trained parameters, read back, classify the points in a separate inference graph.
    const infer = await compile(g, { params: 'initializers', outputs: ['logits'], weights: (n) => train.parameters()[n], noCache: true });
    const logits = (await infer.run({ x: data.x })).logits.data as Float32Array;
    let correct = 0;
    const ys = data.y.data as BigInt64Array;
    for (let i = 0; i < ys.length; i++) if (Number(logits[2 * i + 1] > logits[2 * i]) === Number(ys[i])) correct++;
    expect(correct / ys.length).toBeGreaterThan(0.98);
  });

  it('saves and loads its state, then resumes identically', async () => {
    const random = mulberry32(2);
    const data = spirals(50, random);
    const batch = { x: data.x, labels: data.y };
    const build = () => {
      const { g, loss } = spiralModel();
      return { g, loss };
    };
    const first = build();
    const weights = initWeights(first.g, random);
    const options = { weights: (n: string) => weights.get(n), lr: (s: number) => cosineLr({ peakLr: 0.01, warmupSteps: 3, totalSteps: 20 }, s), optimizer: { maxGradNorm: 1 } };
    const a = await createTrainStep(first.g, { ...options, loss: first.loss });
    for (let s = 0; s < 4; s++) await a.step(batch);
    const saved = a.state();
    const continued = [];
    for (let s = 0; s < 3; s++) continued.push(await a.step(batch));

    const second = build();
    const b = await createTrainStep(second.g, { ...options, loss: second.loss });
    b.loadState(saved);
    expect(b.stepCount).toBe(4);
    for (let s = 0; s < 3; s++) expect(await b.step(batch)).toMatchObject({ loss: continued[s].loss, gradNorm: continued[s].gradNorm, lr: continued[s].lr });
    const pa = a.parameters();
    const pb = b.parameters();
    for (const name of Object.keys(pa)) expect(pb[name].data).toEqual(pa[name].data);
    expect(() => b.loadState({ ...saved, m: {} })).toThrow(/m of l0\.w/);
  });
});

// ---------------------------------------------------------------- tiny transformer reversing a sequence

const VOCAB = 10; // tokens 0…7 are symbols, 8 separates input from output, 9 starts the sequence
const SYMBOLS = 8;
const LENGTH = 5; // symbols to reverse
const SEQ = 2 * LENGTH + 2; // [BOS, x₁…x₅, SEP, x₅…x₁]
const D = 32;
const HEADS = 2;

/** Causal self-attention written with matmul, softmax and a constant additive mask. */
function attention(g: Graph, x: Tensor, layer: number, batch: number): Tensor {
  const hd = D / HEADS;
  const w = (name: string) => g.param(`layer${layer}.${name}`, 'float32', [D, D]);
  const heads = (t: Tensor) => ops.transpose(ops.reshape(t, [batch, SEQ, HEADS, hd]), [0, 2, 1, 3]); // [B, H, S, hd]
  const q = heads(ops.matmul(x, w('q')));
  const k = heads(ops.matmul(x, w('k')));
  const v = heads(ops.matmul(x, w('v')));
  const mask = hostTensor('float32', [SEQ, SEQ]);
  for (let i = 0; i < SEQ; i++) for (let j = i + 1; j < SEQ; j++) (mask.data as Float32Array)[i * SEQ + j] = -1e9;
  const scores = ops.add(ops.mul(ops.matmul(q, ops.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd)), g.constant(mask, 'causal_mask'));
  const context = ops.reshape(ops.transpose(ops.matmul(ops.softmax(scores, -1), v), [0, 2, 1, 3]), [batch, SEQ, D]);
  return ops.matmul(context, w('o'));
}

function transformer(batch: number) {
  const g = new Graph('reverse');
  const ids = g.input('ids', 'int64', [batch, SEQ]);
  const labels = g.input('labels', 'int64', [batch * SEQ]);
  let h = ops.add(ops.gather(g.param('embed', 'float32', [VOCAB, D]), ids), g.param('position', 'float32', [SEQ, D]));
  for (let layer = 0; layer < 2; layer++) {
    const norm = (name: string, t: Tensor) => ops.rmsNorm(t, g.param(`layer${layer}.${name}.gain`, 'float32', [D]));
    h = ops.add(h, attention(g, norm('attn_norm', h), layer, batch));
    const up = ops.relu(ops.matmul(norm('mlp_norm', h), g.param(`layer${layer}.up`, 'float32', [D, 4 * D])));
    h = ops.add(h, ops.matmul(up, g.param(`layer${layer}.down`, 'float32', [4 * D, D])));
  }
  const logits = ops.matmul(ops.rmsNorm(h, g.param('final_norm.gain', 'float32', [D])), g.param('unembed', 'float32', [D, VOCAB]));
  return { g, loss: ops.crossEntropy(ops.reshape(logits, [batch * SEQ, VOCAB]), labels) };
}

/** Random sequences; each position is labelled with the next token, counted only over the reversed half. */
function reversals(batch: number, random: () => number): { ids: HostTensor; labels: HostTensor } {
  const ids = i64([batch, SEQ]);
  const labels = i64([batch * SEQ]);
  const id = ids.data as BigInt64Array;
  const label = labels.data as BigInt64Array;
  for (let b = 0; b < batch; b++) {
    const xs = Array.from({ length: LENGTH }, () => Math.floor(random() * SYMBOLS));
    const seq = [9, ...xs, 8, ...[...xs].reverse()];
    seq.forEach((t, i) => {
      id[b * SEQ + i] = BigInt(t);
      label[b * SEQ + i] = BigInt(i >= LENGTH + 1 && i < SEQ - 1 ? seq[i + 1] : -100);
    });
  }
  return { ids, labels };
}

describe('a tiny transformer', () => {
  it('learns to reverse a sequence of 5 tokens', async () => {
    const random = mulberry32(3);
    const batch = 64;
    const { g, loss } = transformer(batch);
    const weights = initWeights(g, random);
    const schedule = { peakLr: 3e-3, warmupSteps: 30, totalSteps: 600, minLr: 3e-4 };
    const train = await createTrainStep(g, {
      loss,
      weights: (n) => weights.get(n),
      groups: [{ params: g.params.filter((p) => p.name.endsWith('.gain')), weightDecay: 0 }],
      optimizer: { weightDecay: 0.01, maxGradNorm: 1 },
      lr: (s) => cosineLr(schedule, s),
    });
    let last = Infinity;
    for (let s = 0; s < schedule.totalSteps; s++) last = (await train.step(reversals(batch, random))).loss;
    expect(last).toBeLessThan(0.02); // chance is ln 8 ≈ 2.08
  });
});
