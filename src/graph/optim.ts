// The optimizer as graph ops: AdamW with decoupled weight decay (PyTorch semantics), global-norm gradient
// clipping, and the learning-rate schedule evaluated on the host. The update nodes are appended to the graph
// that computes the gradients, so forward, backward, clipping and update run as one onnxruntime run.
import type { Tensor } from './graph.js';
import { GraphBuildError, attr } from './graph.js';
import * as ops from './ops.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (a parameter group may override it). */
  weightDecay: number;
  /** Clip the global L2 norm of all gradients to this, as torch.nn.utils.clip_grad_norm_; none if unset. */
  maxGradNorm?: number;
}

/** torch.optim.AdamW's defaults. */
export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** One trainable parameter: its current value, gradient, moment estimates, and its group's settings. */
export interface AdamWSlot {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  /** Multiplies the scheduled learning rate. */
  lrScale: number;
  weightDecay: number;
}

export interface AdamWResult {
  /** New values of each slot's param, m and v, in slot order. */
  updates: { param: Tensor; m: Tensor; v: Tensor }[];
  /** Global L2 norm of the (scaled) gradients before clipping, as clip_grad_norm_ returns it. */
  gradNorm: Tensor;
}

/** Float32 scalars fed from the host each step. */
export interface StepInputs {
  /** The scheduled learning rate. */
  lr: Tensor;
  /** t, the 1-based number of this update (for bias correction). */
  step: Tensor;
  /** Multiplies every gradient first (1/k when k micro-batch gradients were summed); 1 if unset. */
  gradScale?: Tensor;
}

/** √(Σ‖g‖²) over all gradients: one ReduceSumSquare pass per gradient. */
export function globalNorm(grads: readonly Tensor[]): Tensor {
  if (grads.length === 0) throw new GraphBuildError('globalNorm: no gradients');
  const squares = grads.map((g) => ops.custom('ReduceSumSquare', [g], { keepdims: attr.int(0) }, [{ dtype: g.dtype, shape: [] }])[0]);
  const total = squares.length === 1 ? squares[0] : ops.custom('Sum', squares, {}, [{ dtype: 'float32', shape: [] }])[0];
  return ops.sqrt(total);
}

/**
 * One AdamW step for every slot. With s the gradient scale (gradScale × clip coefficient), lr_g = lr·lrScale:
 *
 *   p ← p·(1 − lr_g·wd)                               decoupled weight decay, applied first
 *   m ← β1·m + (1 − β1)·s·g
 *   v ← β2·v + (1 − β2)·s²·g²
 *   p ← p − lr_g·m̂ / (√v̂ + ε)      m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)
 *
 * The last line is evaluated as p − (lr_g·√(1 − β2ᵗ)/(1 − β1ᵗ))·m / (√v + ε·√(1 − β2ᵗ)), the same quantity with
 * all bias correction folded into two scalars, so each parameter takes 6 elementwise passes after m and v.
 * Clipping scales g by min(1, maxNorm/(‖g‖ + 1e-6)) — folded into s, so it costs only the norm reduction.
 */
export function adamw(slots: readonly AdamWSlot[], inputs: StepInputs, config: AdamWConfig): AdamWResult {
  for (const s of slots) {
    if (s.param.dtype !== 'float32' || s.grad.dtype !== 'float32') throw new GraphBuildError(`adamw: ${s.param} must be float32 with a float32 gradient`);
  }
  const { beta1, beta2, eps } = config;
  const { lr, step } = inputs;
  let gradNorm = globalNorm(slots.map((s) => s.grad));
  let scale = inputs.gradScale;
  if (scale) gradNorm = ops.mul(gradNorm, scale);
  if (config.maxGradNorm !== undefined) {
    const coef = ops.min(ops.div(config.maxGradNorm, ops.add(gradNorm, 1e-6)), 1);
    scale = scale ? ops.mul(scale, coef) : coef;
  }
  const mCoef = scale ? ops.mul(scale, 1 - beta1) : ops.scalar(lr.graph, 1 - beta1);
  const vCoef = scale ? ops.mul(ops.mul(scale, scale), 1 - beta2) : ops.scalar(lr.graph, 1 - beta2);
  const bc1 = ops.sub(1, ops.pow(beta1, step));
  const sqrtBc2 = ops.sqrt(ops.sub(1, ops.pow(beta2, step)));
  const epsHat = ops.mul(sqrtBc2, eps);
  const baseStep = ops.div(ops.mul(lr, sqrtBc2), bc1);
  // Per-group scalars, shared by the slots of a group.
  const stepSizes = memo((lrScale: number) => (lrScale === 1 ? baseStep : ops.mul(baseStep, lrScale)));
  const keeps = memo((lrWd: number) => ops.sub(1, ops.mul(lr, lrWd)));

  const updates = slots.map((s) => {
    const m = ops.add(ops.mul(s.m, beta1), ops.mul(s.grad, mCoef));
    const v = ops.add(ops.mul(s.v, beta2), ops.mul(ops.mul(s.grad, s.grad), vCoef));
    const direction = ops.div(m, ops.add(ops.sqrt(v), epsHat));
    const decayed = s.weightDecay === 0 ? s.param : ops.mul(s.param, keeps(s.lrScale * s.weightDecay));
    return { param: ops.sub(decayed, ops.mul(direction, stepSizes(s.lrScale))), m, v };
  });
  return { updates, gradNorm };
}

function memo<T>(make: (key: number) => T): (key: number) => T {
  const cache = new Map<number, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) cache.set(key, (value = make(key)));
    return value;
  };
}

export interface CosineSchedule {
  peakLr: number;
  /** Updates with a linear ramp from peakLr/warmupSteps up to peakLr. */
  warmupSteps: number;
  /** Updates after which the rate stays at minLr. */
  totalSteps: number;
  minLr?: number;
}

/**
 * The learning rate of update `step` (0-based): linear warm-up to the peak — (step + 1)/warmup, so the first
 * update is not wasted at lr 0 — then a half cosine down to minLr at totalSteps, minLr after.
 */
export function cosineLr(s: CosineSchedule, step: number): number {
  const min = s.minLr ?? 0;
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  if (step >= s.totalSteps) return min;
  const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  return min + (s.peakLr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
