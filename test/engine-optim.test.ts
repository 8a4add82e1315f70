// AdamW, clipping and the schedule checked against a plain-TypeScript AdamW written the way torch.optim.AdamW
// reads: first as graph ops with the gradients fed as inputs, then as a whole train step (autodiff, parameter
// groups, a frozen param, micro-batch accumulation) on a linear regression whose gradients are written by hand.
import { describe, expect, it } from 'vitest';
import { Graph, compile, f32, type HostTensor, ops } from '../src/graph/index.js';
import { ADAMW_DEFAULTS, type AdamWConfig, adamw, cosineLr } from '../src/graph/optim.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { mulberry32 } from '../src/util/random.js';

// ---------------------------------------------------------------- reference: torch.optim.AdamW in float64

interface ReferenceSlot {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  grad: ArrayLike<number>;
  lrScale: number;
  weightDecay: number;
}

interface ReferenceStep {
  lr: number;
  /** 1-based update count. */
  step: number;
  beta1: number;
  beta2: number;
  eps: number;
  maxGradNorm?: number;
}

/** Update every slot in place; returns the gradient norm before clipping. */
function referenceAdamW(slots: readonly ReferenceSlot[], c: ReferenceStep): number {
  let sq = 0;
  for (const s of slots) for (let i = 0; i < s.grad.length; i++) sq += s.grad[i] ** 2;
  const norm = Math.sqrt(sq);
  const clip = c.maxGradNorm === undefined ? 1 : Math.min(1, c.maxGradNorm / (norm + 1e-6));
  for (const s of slots) {
    const lr = c.lr * s.lrScale;
    for (let i = 0; i < s.p.length; i++) {
      const g = s.grad[i] * clip;
      s.p[i] *= 1 - lr * s.weightDecay;
      s.m[i] = c.beta1 * s.m[i] + (1 - c.beta1) * g;
      s.v[i] = c.beta2 * s.v[i] + (1 - c.beta2) * g * g;
      const mHat = s.m[i] / (1 - c.beta1 ** c.step);
      const vHat = s.v[i] / (1 - c.beta2 ** c.step);
      s.p[i] -= (lr * mHat) / (Math.sqrt(vHat) + c.eps);
    }
  }
  return norm;
}

// ---------------------------------------------------------------- tests

interface Slot {
  name: string;
  shape: number[];
  lrScale: number;
  weightDecay: number;
}

async function compareWithReference(config: AdamWConfig, gradAmplitude: number): Promise<void> {
  const slots: Slot[] = [
    { name: 'w', shape: [3, 4], lrScale: 1, weightDecay: 0.1 },
    { name: 'b', shape: [5], lrScale: 0.5, weightDecay: 0 },
  ];
  const g = new Graph('adamw');
  const lr = g.input('lr', 'float32', []);
  const step = g.input('step', 'float32', []);
  const built = slots.map((s) => ({
    param: g.input(s.name, 'float32', s.shape),
    grad: g.input(`${s.name}.grad`, 'float32', s.shape),
    m: g.input(`${s.name}.m`, 'float32', s.shape),
    v: g.input(`${s.name}.v`, 'float32', s.shape),
    lrScale: s.lrScale,
    weightDecay: s.weightDecay,
  }));
  const { updates, gradNorm } = adamw(built, { lr, step }, config);
  slots.forEach((s, i) => {
    g.output(`${s.name}.new`, updates[i].param);
    g.output(`${s.name}.m.new`, updates[i].m);
    g.output(`${s.name}.v.new`, updates[i].v);
  });
  g.output('gradNorm', gradNorm);
  const session = await compile(g, { params: 'inputs', noCache: true });

  const random = mulberry32(7);
  const state = slots.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return { p: Float64Array.from({ length: n }, () => random() - 0.5), m: new Float64Array(n), v: new Float64Array(n) };
  });
  const feeds: Record<string, HostTensor> = {};
  slots.forEach((s, i) => {
    feeds[s.name] = f32(s.shape, state[i].p);
    feeds[`${s.name}.m`] = f32(s.shape);
    feeds[`${s.name}.v`] = f32(s.shape);
  });
  for (let t = 1; t <= 5; t++) {
    const rate = cosineLr({ peakLr: 0.05, warmupSteps: 2, totalSteps: 5 }, t - 1);
    const grads = state.map((st) => Float64Array.from(st.p, () => gradAmplitude * (random() - 0.5)));
    const out = await session.run({
      ...feeds,
      ...Object.fromEntries(slots.map((s, i) => [`${s.name}.grad`, f32(s.shape, grads[i])])),
      lr: f32([], [rate]),
      step: f32([], [t]),
    });
    const norm = referenceAdamW(
      state.map((st, i) => ({ ...st, grad: grads[i], lrScale: slots[i].lrScale, weightDecay: slots[i].weightDecay })),
      { ...config, lr: rate, step: t },
    );
    expect((out.gradNorm.data as Float32Array)[0]).toBeCloseTo(norm, 4);
    slots.forEach((s, i) => {
      for (const [key, ref] of [['', state[i].p], ['.m', state[i].m], ['.v', state[i].v]] as const) {
        const got = out[`${s.name}${key}.new`].data as Float32Array;
        for (let j = 0; j < ref.length; j++) expect(got[j]).toBeCloseTo(ref[j], 5);
        feeds[`${s.name}${key}`] = out[`${s.name}${key}.new`];
      }
    });
  }
}

describe('AdamW as graph ops', () => {
  it('matches torch-style AdamW: decoupled decay, bias correction, per-group lr and decay', async () => {
    await compareWithReference({ ...ADAMW_DEFAULTS }, 1);
  });

  it('clips the global gradient norm before the update', async () => {
    // Gradients of norm ≈ 6 against a limit of 0.5: the clip coefficient is far below 1 every step.
    await compareWithReference({ ...ADAMW_DEFAULTS, beta2: 0.99, eps: 1e-6, maxGradNorm: 0.5 }, 5);
  });

  it('schedules a linear warm-up then a half cosine to the floor', () => {
    const s = { peakLr: 1e-3, warmupSteps: 4, totalSteps: 14, minLr: 1e-4 };
    expect([0, 1, 2, 3].map((t) => cosineLr(s, t))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3]);
    expect(cosineLr(s, 9)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 12); // halfway down the cosine
    expect(cosineLr(s, 14)).toBe(1e-4);
    expect(cosineLr(s, 100)).toBe(1e-4);
  });
});

// ---------------------------------------------------------------- the whole step: createTrainStep

/**
 * Linear regression pred = x·W + b + x·F with F frozen, loss = mean((pred − y)²). The reference computes the
 * gradients by hand and applies referenceAdamW; the train step differentiates the graph.
 */
function regression() {
  const g = new Graph('regression');
  const x = g.input('x', 'float32', ['batch', 3]);
  const y = g.input('y', 'float32', ['batch', 2]);
  const w = g.param('w', 'float32', [3, 2]);
  const b = g.param('b', 'float32', [2]);
  const f = g.param('f', 'float32', [3, 2]);
  const pred = ops.add(ops.add(ops.matmul(x, w), b), ops.matmul(x, f));
  const r = ops.sub(pred, y);
  const loss = ops.mean(ops.mul(r, r), [0, 1]);
  const random = mulberry32(11);
  const init = { w: f32([3, 2], Array.from({ length: 6 }, () => random() - 0.5)), b: f32([2], [0.1, -0.2]), f: f32([3, 2], [1, 0, 0, 1, 1, 1]) };
  const data = (n: number) => {
    const xs = Array.from({ length: n * 3 }, () => 2 * random() - 1);
    const ys = Array.from({ length: n * 2 }, () => 2 * random() - 1);
    return { x: f32([n, 3], xs), y: f32([n, 2], ys) };
  };
  return { g, loss, params: { w, b, f }, init, data };
}

/** Hand gradients of the regression loss at W, b (F fixed) over a batch. */
function regressionGrads(batch: { x: HostTensor; y: HostTensor }, w: ArrayLike<number>, b: ArrayLike<number>, f: ArrayLike<number>) {
  const x = batch.x.data as Float32Array;
  const y = batch.y.data as Float32Array;
  const n = batch.x.shape[0];
  const gw = new Float64Array(6);
  const gb = new Float64Array(2);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 2; j++) {
      let pred = b[j];
      for (let k = 0; k < 3; k++) pred += x[i * 3 + k] * (w[k * 2 + j] + f[k * 2 + j]);
      const r = pred - y[i * 2 + j];
      loss += (r * r) / (n * 2);
      const d = (2 * r) / (n * 2);
      gb[j] += d;
      for (let k = 0; k < 3; k++) gw[k * 2 + j] += x[i * 3 + k] * d;
    }
  }
  return { loss, gw, gb };
}

describe('createTrainStep', () => {
  const config = { ...ADAMW_DEFAULTS, weightDecay: 0.05, maxGradNorm: 0.3 };
  const schedule = { peakLr: 0.05, warmupSteps: 2, totalSteps: 6 };

  it('matches the reference: groups, a frozen param, clipping, schedule, bias correction', async () => {
    const { g, loss, params, init, data } = regression();
    const train = await createTrainStep(g, {
      loss,
      weights: (n) => init[n as keyof typeof init],
      groups: [
        { params: [params.b], lrScale: 2, weightDecay: 0 },
        { params: [params.f], frozen: true },
      ],
      optimizer: config,
      lr: (s) => cosineLr(schedule, s),
    });
    const ref = {
      w: { p: Float64Array.from(init.w.data as Float32Array), m: new Float64Array(6), v: new Float64Array(6) },
      b: { p: Float64Array.from(init.b.data as Float32Array), m: new Float64Array(2), v: new Float64Array(2) },
    };
    const fixed = init.f.data as Float32Array;
    for (let t = 1; t <= 5; t++) {
      const batch = data(8);
      const hand = regressionGrads(batch, ref.w.p, ref.b.p, fixed);
      const lr = cosineLr(schedule, t - 1);
      const norm = referenceAdamW(
        [
          { ...ref.w, grad: hand.gw, lrScale: 1, weightDecay: 0.05 },
          { ...ref.b, grad: hand.gb, lrScale: 2, weightDecay: 0 },
        ],
        { ...config, lr, step: t },
      );
      const result = await train.step(batch);
      expect(result.lr).toBe(lr);
      expect(result.loss).toBeCloseTo(hand.loss, 5);
      expect(result.gradNorm).toBeCloseTo(norm, 5);
      expect(norm).toBeGreaterThan(config.maxGradNorm); // clipping is active
      const now = train.parameters();
      expectClose(now.w.data as Float32Array, ref.w.p, 1e-5);
      expectClose(now.b.data as Float32Array, ref.b.p, 1e-5);
      expect(now.f).toBe(init.f); // frozen: fed as is, never copied nor updated
    }
    const state = train.state();
    expect(state.step).toBe(5);
    expect(Object.keys(state.m).sort()).toEqual(['b', 'w']); // no optimizer state for the frozen param
    expectClose(state.m.w.data as Float32Array, ref.w.m, 1e-6);
    expectClose(state.v.b.data as Float32Array, ref.b.v, 1e-8);
  });

  it('averages micro-batch gradients: 2 micro-batches of 4, or 4 of 2, ≈ one batch of 8', async () => {
    const { g, loss, params, init, data } = regression();
    const options = {
      loss,
      weights: (n: string) => init[n as keyof typeof init],
      groups: [{ params: [params.f], frozen: true }],
      optimizer: config,
      lr: (s: number) => cosineLr(schedule, s),
    };
    const whole = await createTrainStep(g, options);
    const byTwo = await createTrainStep(g, options);
    const byFour = await createTrainStep(g, options); // first, two middle and last micro-batch programs
    for (let t = 0; t < 4; t++) {
      const batch = data(8);
      const part = (from: number, to: number) => ({ x: rows(batch.x, from, to), y: rows(batch.y, from, to) });
      const a = await whole.step(batch);
      const b = await byTwo.step([part(0, 4), part(4, 8)]);
      const c = await byFour.step([part(0, 2), part(2, 4), part(4, 6), part(6, 8)]);
      for (const r of [b, c]) {
        expect(r.loss).toBeCloseTo(a.loss, 5);
        expect(r.gradNorm).toBeCloseTo(a.gradNorm, 5);
      }
    }
    for (const other of [byTwo, byFour]) {
      for (const name of ['w', 'b']) expectClose(other.parameters()[name].data as Float32Array, whole.parameters()[name].data as Float32Array, 1e-5);
    }
  });
});

function rows(t: HostTensor, from: number, to: number): HostTensor {
  const width = t.shape[1];
  return f32([to - from, width], (t.data as Float32Array).subarray(from * width, to * width));
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThan(tol);
}
