// Linear models fitted by L-BFGS: multinomial logistic regression (one class of k) and k independent logistic
// regressions (k yes/no labels), with an L2 penalty ½·λ·‖W‖² (the bias is not penalised). The mean negative
// log-likelihood and its gradient over the [n, d] data — two matmuls — run on onnxruntime; the optimiser is the
// plain TypeScript below. Used by the label heads (label-heads.ts) and the encoder study (scripts/probe-encoders.ts).
import { Graph, type Tensor } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { compile, type Session } from '../graph/session.js';

/** softmax: one class of k per row (y one-hot); sigmoid: k independent yes/no labels (y in {0, 1}). */
export type LogisticKind = 'softmax' | 'sigmoid';

export interface LinearModel {
  /** [d, k], row-major. */
  w: Float64Array;
  /** [k] */
  b: Float64Array;
  d: number;
  k: number;
}

/** Per-column mean and standard deviation of a row-major [n, d] matrix (a constant column gets σ = 1). */
export function columnStats(x: Float32Array, n: number, d: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sq[j] += (x[i * d + j] - mean[j]) ** 2;
  const std = sq.map((s) => Math.sqrt(s / n) || 1);
  return { mean, std };
}

/** (x − mean) / std, column by column. */
export function standardize(x: Float32Array, n: number, d: number, stats: { mean: Float64Array; std: Float64Array }): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = (x[i * d + j] - stats.mean[j]) / stats.std[j];
  return out;
}

/** The scores z = x·W + b [n, k] of rows x [n, d]. */
export function linearScores(model: LinearModel, x: Float32Array, n: number): Float64Array {
  const { w, b, d, k } = model;
  const z = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) z[i * k + c] = b[c];
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j];
      if (v === 0) continue;
      for (let c = 0; c < k; c++) z[i * k + c] += v * w[j * k + c];
    }
  }
  return z;
}

/**
 * The negative log-likelihood of targets y [n, k] under scores z [n, k], term by term (summed, the loss):
 *   softmax   −y_c · log softmax(z)_c
 *   sigmoid   log(1 + e^z) − y·z, with softplus written stably as relu(z) + log(1 + e^−|z|)
 * Shared with the hidden-layer heads (hidden-head.ts).
 */
export function negLogLikelihoodTerms(kind: LogisticKind, z: Tensor, y: Tensor): Tensor {
  if (kind === 'softmax') return ops.neg(ops.mul(y, ops.logSoftmax(z, -1)));
  const softplus = ops.add(ops.relu(z), ops.log(ops.add(ops.exp(ops.neg(ops.abs(z))), 1)));
  return ops.sub(softplus, ops.mul(y, z));
}

/** The loss-and-gradient graph of a linear model over [n, d] features: mean negative log-likelihood, ∂/∂W, ∂/∂b. */
function lossGraph(kind: LogisticKind): Graph {
  const g = new Graph(`logistic_${kind}`);
  const x = g.input('x', 'float32', ['n', 'd']);
  const y = g.input('y', 'float32', ['n', 'k']);
  const w = g.input('w', 'float32', ['d', 'k']);
  const b = g.input('b', 'float32', ['k']);
  const invN = g.input('inv_n', 'float32', []);
  const z = ops.add(ops.matmul(x, w), b);
  const loss = ops.mul(ops.sum(negLogLikelihoodTerms(kind, z, y), [0, 1]), invN);
  const p = kind === 'softmax' ? ops.exp(ops.logSoftmax(z, -1)) : ops.sigmoid(z);
  const gz = ops.mul(ops.sub(p, y), invN);
  g.output('loss', loss);
  g.output('gw', ops.matmul(ops.transpose(x, [1, 0]), gz));
  g.output('gb', ops.sum(gz, [0]));
  return g;
}

const sessions = new Map<string, Promise<Session>>();

function lossSession(kind: LogisticKind, threads?: number): Promise<Session> {
  const key = `${kind}:${threads ?? ''}`;
  let s = sessions.get(key);
  if (!s) {
    s = compile(lossGraph(kind), { params: 'initializers', threads, noCache: true });
    sessions.set(key, s);
  }
  return s;
}

/** Frees the compiled loss graphs. */
export async function releaseLogisticSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) await (await s).release();
}

const host = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });

/** Minimizes f by L-BFGS (memory 10) with Armijo backtracking. */
export async function lbfgs(
  f: (theta: Float64Array) => Promise<{ loss: number; grad: Float64Array }>,
  theta0: Float64Array,
  maxIter = 300,
): Promise<Float64Array> {
  const m = 10;
  let theta = theta0;
  let { loss, grad } = await f(theta);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  let stall = 0;
  for (let it = 0; it < maxIter; it++) {
    // Two-loop recursion: direction = −H·grad.
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let i = S.length - 1; i >= 0; i--) {
      const a = dot(S[i], q) / dot(Y[i], S[i]);
      alpha[i] = a;
      for (let j = 0; j < q.length; j++) q[j] -= a * Y[i][j];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.max(1e-12, Math.sqrt(dot(grad, grad)));
    for (let j = 0; j < q.length; j++) q[j] *= gamma;
    for (let i = 0; i < S.length; i++) {
      const bta = dot(Y[i], q) / dot(Y[i], S[i]);
      for (let j = 0; j < q.length; j++) q[j] += S[i][j] * (alpha[i] - bta);
    }
    const dir = q.map((v) => -v);
    let slope = dot(grad, dir);
    if (!(slope < 0)) {
      S.length = 0;
      Y.length = 0;
      for (let j = 0; j < dir.length; j++) dir[j] = -grad[j];
      slope = -dot(grad, grad);
    }
    let t = 1;
    let next: { loss: number; grad: Float64Array } | undefined;
    let cand = theta;
    for (let k = 0; k < 30; k++) {
      cand = theta.map((v, j) => v + t * dir[j]);
      next = await f(cand);
      if (next.loss <= loss + 1e-4 * t * slope) break;
      t *= 0.5;
      next = undefined;
    }
    if (!next) break; // no decrease possible at float32 precision
    const s = cand.map((v, j) => v - theta[j]);
    const y = next.grad.map((v, j) => v - grad[j]);
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    const rel = (loss - next.loss) / Math.max(1, Math.abs(loss));
    theta = cand;
    loss = next.loss;
    grad = next.grad;
    stall = rel < 1e-7 ? stall + 1 : 0;
    if (stall >= 3) break;
    let gmax = 0;
    for (const v of grad) gmax = Math.max(gmax, Math.abs(v));
    if (gmax < 1e-5) break;
  }
  return theta;
}

/**
 * Fits a logistic model (softmax over k classes, or k independent sigmoids) to rows x [n, d] and targets y [n, k]
 * with L2 strength lambda, from `init` (a warm start, e.g. the fit at a neighbouring lambda) or zeros.
 */
export async function fitLogistic(
  kind: LogisticKind,
  x: Float32Array,
  y: Float32Array,
  n: number,
  d: number,
  k: number,
  lambda: number,
  o: { init?: LinearModel; threads?: number; maxIter?: number } = {},
): Promise<LinearModel> {
  const session = await lossSession(kind, o.threads);
  const feeds = { x: host([n, d], x), y: host([n, k], y), inv_n: host([], Float32Array.of(1 / n)) };
  const f = async (theta: Float64Array) => {
    const w = Float32Array.from(theta.subarray(0, d * k));
    const b = Float32Array.from(theta.subarray(d * k));
    const out = await session.run({ ...feeds, w: host([d, k], w), b: host([k], b) });
    let reg = 0;
    const grad = new Float64Array(theta.length);
    const gw = out.gw.data as Float32Array;
    const gb = out.gb.data as Float32Array;
    for (let i = 0; i < d * k; i++) {
      reg += theta[i] * theta[i];
      grad[i] = gw[i] + lambda * theta[i];
    }
    for (let i = 0; i < k; i++) grad[d * k + i] = gb[i];
    return { loss: (out.loss.data as Float32Array)[0] + 0.5 * lambda * reg, grad };
  };
  const theta0 = new Float64Array(d * k + k);
  if (o.init) {
    theta0.set(o.init.w, 0);
    theta0.set(o.init.b, d * k);
  }
  const theta = await lbfgs(f, theta0, o.maxIter);
  return { w: theta.slice(0, d * k), b: theta.slice(d * k), d, k };
}
