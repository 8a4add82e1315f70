// A label head with one hidden ReLU layer, fitted by AdamW on minibatches of standardized pooled features:
//
//   h = relu(W₁ᵀx + b₁)           W₁ [d, H]
//   z = W₂ᵀh + b₂                 W₂ [H, k]
//   loss = the negative log-likelihood of the targets, summed over the k outputs (logistic.ts's, softmax or
//          sigmoid), averaged over the batch
//
// Each input feature is dropped with probability `dropout` (the rest scaled by 1/(1 − p)), drawn anew for every
// example of every batch: the pooled features are 2,048 correlated channels of four networks, and without it the
// layer learns the training crops by heart. Where logistic regression (logistic.ts) is convex and fitted to
// convergence, this fit is stopped: the caller scores a held-out fold after every epoch (`onEpoch`) and refits on
// all the data for the number of epochs that scored best (label-heads.ts).
import { Graph, type Tensor } from '../graph/graph.js';
import { hostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { cosineLr } from '../graph/optim.js';
import { compile } from '../graph/session.js';
import { createTrainStep } from '../graph/trainer-step.js';
import { mulberry32, shuffleInPlace } from '../util/random.js';
import { negLogLikelihoodTerms, type LinearModel, type LogisticKind } from './logistic.js';

export interface HiddenHeadOptions {
  /** Width H of the hidden layer. */
  hidden: number;
  /** Passes over the data; the learning rate follows one cosine over `scheduleEpochs` (default `epochs`). */
  epochs: number;
  scheduleEpochs?: number;
  /** Peak learning rate (default 1e-3), AdamW weight decay (default 0.05), input dropout (default ½), batch (256). */
  lr?: number;
  weightDecay?: number;
  dropout?: number;
  batch?: number;
  seed?: number;
  threads?: number;
  /** Called after each epoch with the model so far (e.g. to score a held-out fold). */
  onEpoch?: (epoch: number, model: HiddenHeadModel, meanLoss: number) => void | Promise<void>;
}

/** The two layers, as two linear models: the hidden layer [d, H] and the output layer [H, k]. */
export interface HiddenHeadModel {
  hidden: LinearModel;
  output: LinearModel;
}

export const HIDDEN_HEAD_DEFAULTS = { lr: 1e-3, weightDecay: 0.05, dropout: 0.5, batch: 256, seed: 1 } as const;

function layers(g: Graph, x: Tensor, d: number, h: number, k: number): Tensor {
  const hidden = ops.relu(ops.add(ops.matmul(x, g.param('hidden.weight', 'float32', [d, h])), g.param('hidden.bias', 'float32', [h])));
  return ops.add(ops.matmul(hidden, g.param('weight', 'float32', [h, k])), g.param('bias', 'float32', [k]));
}

/** Fits the head to rows x [n, d] (standardized) and targets y [n, k] (one-hot, or 0/1 per label). */
export async function fitHiddenHead(kind: LogisticKind, x: Float32Array, y: Float32Array, n: number, d: number, k: number, o: HiddenHeadOptions): Promise<HiddenHeadModel> {
  const { lr, weightDecay, dropout, batch, seed } = { ...HIDDEN_HEAD_DEFAULTS, ...o };
  const h = o.hidden;
  const b = Math.min(batch, n);
  const random = mulberry32(seed);
  // He-uniform for the ReLU layer, Glorot-uniform for the output; biases zero.
  const uniform = (count: number, limit: number) => Float32Array.from({ length: count }, () => (2 * random() - 1) * limit);
  const initial = new Map([
    ['hidden.weight', hostTensor('float32', [d, h], uniform(d * h, Math.sqrt(6 / d)))],
    ['hidden.bias', hostTensor('float32', [h])],
    ['weight', hostTensor('float32', [h, k], uniform(h * k, Math.sqrt(6 / (h + k))))],
    ['bias', hostTensor('float32', [k])],
  ]);
  const g = new Graph('hidden_head');
  const xs = g.input('x', 'float32', ['batch', d]);
  const ys = g.input('y', 'float32', ['batch', k]);
  const perEpoch = Math.floor(n / b);
  const schedule = { peakLr: lr, warmupSteps: Math.min(50, perEpoch), totalSteps: perEpoch * (o.scheduleEpochs ?? o.epochs) };
  const step = await createTrainStep(g, {
    // The mean over the batch of the negative log-likelihood summed over the k outputs.
    loss: ops.mean(ops.sum(negLogLikelihoodTerms(kind, layers(g, xs, d, h, k), ys), [1]), [0]),
    weights: (name) => initial.get(name),
    lr: (s) => cosineLr(schedule, s),
    optimizer: { weightDecay },
    threads: o.threads,
  });
  const modelOf = (): HiddenHeadModel => {
    const p = step.parameters();
    const data = (name: string) => Float64Array.from(p[name].data as Float32Array);
    return { hidden: { w: data('hidden.weight'), b: data('hidden.bias'), d, k: h }, output: { w: data('weight'), b: data('bias'), d: h, k } };
  };
  try {
    const order = Array.from({ length: n }, (_, i) => i);
    const [xb, yb] = [new Float32Array(b * d), new Float32Array(b * k)];
    const keep = 1 / (1 - dropout);
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      shuffleInPlace(order, random);
      let total = 0;
      for (let start = 0; start + b <= n; start += b) {
        for (let j = 0; j < b; j++) {
          const i = order[start + j];
          for (let c = 0; c < d; c++) xb[j * d + c] = random() < dropout ? 0 : x[i * d + c] * keep;
          yb.set(y.subarray(i * k, (i + 1) * k), j * k);
        }
        total += (await step.step({ x: hostTensor('float32', [b, d], xb), y: hostTensor('float32', [b, k], yb) })).loss;
      }
      await o.onEpoch?.(epoch, modelOf(), total / perEpoch);
    }
    return modelOf();
  } finally {
    await step.release();
  }
}

/** The scores z [n, k] of rows x [n, d] through both layers (no dropout). */
export async function hiddenHeadScores(model: HiddenHeadModel, x: Float32Array, n: number, threads?: number): Promise<Float64Array> {
  const { d, k: h } = model.hidden;
  const k = model.output.k;
  const g = new Graph('hidden_head_scores');
  g.output('z', layers(g, g.input('x', 'float32', ['rows', d]), d, h, k));
  const weights: Record<string, ReturnType<typeof hostTensor>> = {
    'hidden.weight': hostTensor('float32', [d, h], Float32Array.from(model.hidden.w)),
    'hidden.bias': hostTensor('float32', [h], Float32Array.from(model.hidden.b)),
    weight: hostTensor('float32', [h, k], Float32Array.from(model.output.w)),
    bias: hostTensor('float32', [k], Float32Array.from(model.output.b)),
  };
  const session = await compile(g, { params: 'initializers', weights: (name) => weights[name], threads, noCache: true });
  try {
    return Float64Array.from((await session.run({ x: hostTensor('float32', [n, d], x) })).z.data as Float32Array);
  } finally {
    await session.release();
  }
}
