// Finite-difference gradient checks for autodiff. Each case builds an op (or a small model) on its inputs; the
// scalar loss is a fixed random projection Σ y·R of the result, so every output element matters, and grad()'s
// gradients are compared with central differences of that loss. All cases of a call share one graph and two
// compiled sessions (losses; gradients), which keeps the checks fast. GRAD_REPORT=1 prints each case's error.
import { beforeAll, describe, expect, it } from 'vitest';
import { grad } from '../../src/graph/autodiff.js';
import { Graph, type HostTensor, type Shape, type Tensor, compile, hostTensor, ops } from '../../src/graph/index.js';
import { mulberry32 } from '../../src/util/random.js';

export interface GradCase {
  name: string;
  /** Values of the differentiated inputs; a case's precision is their dtype. */
  inputs: readonly HostTensor[];
  /** Declared input shapes where they differ from the values' (symbolic dims). */
  shapes?: readonly (Shape | undefined)[];
  /** Builds the op under test; a non-scalar result must have a static shape (it is projected to a scalar). */
  build: (g: Graph, ...xs: Tensor[]) => Tensor;
}

export interface GradResult {
  /**
   * Largest |analytic − numeric| over all inputs, relative to the largest gradient entry of that input; Infinity
   * for a NaN, a gradient of the wrong size, or an input the loss does not depend on.
   */
  err: number;
  analytic: Float64Array[];
  numeric: Float64Array[];
}

/** Deterministic values in [lo, hi) (mulberry32). */
export function random(dtype: 'float32' | 'float64', shape: readonly number[], seed: number, lo = -1, hi = 1): HostTensor {
  const t = hostTensor(dtype, shape);
  const next = mulberry32(seed);
  const data = t.data as Float64Array;
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * next();
  return t;
}

/** Checks every case; `eps` is the finite-difference step. Results by case name. */
export async function gradcheck(cases: readonly GradCase[], eps: number): Promise<Map<string, GradResult>> {
  const g = new Graph('gradcheck');
  const feeds: Record<string, HostTensor> = {};
  const built = cases.map((c, i) => {
    const xs = c.inputs.map((v, j) => {
      const name = `c${i}_x${j}`;
      feeds[name] = { ...v, data: v.data.slice() };
      return g.input(name, v.dtype, c.shapes?.[j] ?? v.shape);
    });
    const y = c.build(g, ...xs);
    let loss = y;
    if (y.rank > 0) {
      if (!y.shape.every((d) => typeof d === 'number')) throw new Error(`${c.name}: result ${y} needs a static shape`);
      const r = random(y.dtype as 'float64', y.shape as number[], 1000 + i);
      loss = ops.sum(ops.mul(y, g.constant(r, 'projection')), [...y.shape.keys()]);
    }
    g.output(`c${i}_loss`, loss);
    grad(loss, xs).forEach((d, j) => g.output(`c${i}_g${j}`, d));
    return xs.map((x) => x.name);
  });
  const names = [...g.outputMap.keys()];
  const lossSession = await compile(g, { params: 'inputs', threads: 1, outputs: names.filter((n) => n.endsWith('_loss')) });
  const gradSession = await compile(g, { params: 'inputs', threads: 1, outputs: names.filter((n) => !n.endsWith('_loss')) });
  const grads = await gradSession.run(feeds);

  const results = new Map<string, GradResult>();
  for (const [i, c] of cases.entries()) {
    const loss = async () => Number((await lossSession.run(feeds, { outputs: [`c${i}_loss`] }))[`c${i}_loss`].data[0]);
    const result: GradResult = { err: 0, analytic: [], numeric: [] };
    for (const [j, name] of built[i].entries()) {
      const data = feeds[name].data as Float64Array;
      const analytic = Float64Array.from(grads[`c${i}_g${j}`].data as Float64Array);
      const numeric = new Float64Array(data.length);
      for (let e = 0; e < data.length; e++) {
        const v = data[e];
        data[e] = v + eps;
        const up = data[e]; // the stored value (rounded in float32)
        const fUp = await loss();
        data[e] = v - eps;
        const down = data[e];
        const fDown = await loss();
        data[e] = v;
        numeric[e] = (fUp - fDown) / (up - down);
      }
      let scale = 0;
      let diff = 0;
      for (let e = 0; e < data.length; e++) {
        scale = Math.max(scale, Math.abs(numeric[e]), Math.abs(analytic[e]));
        diff = Math.max(diff, Math.abs(numeric[e] - analytic[e]));
      }
      // a wrong-sized gradient, a NaN, or a loss that does not depend on the input (nothing checked) fail
      if (analytic.length !== data.length || Number.isNaN(diff) || scale === 0) diff = Infinity;
      result.err = Math.max(result.err, diff / scale);
      result.analytic.push(analytic);
      result.numeric.push(numeric);
    }
    results.set(c.name, result);
  }
  return results;
}

/** A describe block with one test per case: its error under `tolerance`, with finite-difference step `eps`. */
export function describeGradcheck(title: string, cases: readonly GradCase[], { eps, tolerance }: { eps: number; tolerance: number }): void {
  describe(title, () => {
    let results: Map<string, GradResult>;
    beforeAll(async () => {
      results = await gradcheck(cases, eps);
    });
    it.each(cases.map((c) => c.name))('%s', (name) => {
      const { err } = results.get(name)!;
      if (process.env.GRAD_REPORT) console.log(`${err.toExponential(2)}  ${name}`);
      expect(err).toBeLessThan(tolerance);
    });
  });
}
