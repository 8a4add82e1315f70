// grad()'s contract beyond the per-op rules: seeds, tensors off the path, errors, cross-entropy with every label
// ignored, and the shape of the backward graphs it builds.
import { describe, expect, it } from 'vitest';
import { grad } from '../src/graph/autodiff.js';
import { Graph, GraphBuildError, compile, f32, i64, ops } from '../src/graph/index.js';

const values = (t: { data: ArrayLike<number | bigint> }) => Array.from(t.data, Number);

describe('grad', () => {
  it('takes a seed for a non-scalar loss, gives zeros to tensors off the path, and no gradient to integers', async () => {
    const g = new Graph('api');
    const x = g.input('x', 'float32', ['n', 2]);
    const unused = g.input('unused', 'float32', ['m', 3]);
    const idx = g.input('idx', 'int64', [2]);
    const seed = g.input('seed', 'float32', ['n', 2]);
    const y = ops.mul(ops.gather(x, idx, 1), 3);
    const [dx, dUnused] = grad(y, [x, unused], seed);
    expect(dUnused.shape).toEqual(['m', 3]);
    expect(() => grad(y, [idx])).toThrow(/grad: idx: int64\[2\] is not floating point/);
    g.output('dx', dx);
    g.output('dUnused', dUnused);
    const s = await compile(g, { params: 'inputs' });
    const out = await s.run({ x: f32([1, 2], [5, 6]), unused: f32([2, 3]), idx: i64([2], [1, 1]), seed: f32([1, 2], [1, 10]) });
    expect(values(out.dx)).toEqual([0, 33]); // both reads of x[0, 1] accumulate: 3·(1 + 10)
    expect(out.dUnused.shape).toEqual([2, 3]);
    expect(values(out.dUnused)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('names an op without a rule on the path, and ignores one off it', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const [fast] = ops.custom('FastGelu', [x], {}, [{ dtype: 'float32', shape: [2] }], 'com.microsoft');
    const loss = ops.sum(fast, [0]);
    expect(() => grad(loss, [x])).toThrow(GraphBuildError);
    expect(() => grad(loss, [x])).toThrow(/no gradient rule for op com\.microsoft\.FastGelu/);
    const [offPath] = ops.custom('Erfc', [g.input('c', 'float32', [2])], {}, [{ dtype: 'float32', shape: [2] }]);
    expect(() => grad(ops.sum(ops.mul(x, offPath), [0]), [x])).not.toThrow();
  });

  it('gives zero gradients, not NaN, when cross-entropy ignores every label', async () => {
    const g = new Graph('ce');
    const logits = g.input('logits', 'float32', ['n', 4]);
    const labels = g.input('labels', 'int64', ['n']);
    g.output('d', grad(ops.crossEntropy(logits, labels), [logits])[0]);
    const s = await compile(g, { params: 'inputs' });
    const x = f32([2, 4], [1, 2, 3, 4, -1, 0, 1, 2]);
    const ignored = await s.run({ logits: x, labels: i64([2], [-100, -100]) });
    expect(values(ignored.d)).toEqual(Array(8).fill(0));
    // one counted row: softmax minus one-hot on that row only
    const counted = await s.run({ logits: x, labels: i64([2], [-100, 2]) });
    const e = [-1, 0, 1, 2].map(Math.exp);
    const p = e.map((v) => v / e.reduce((a, b) => a + b));
    const want = [0, 0, 0, 0, p[0], p[1], p[2] - 1, p[3]];
    values(counted.d).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });

  it('builds lean backward graphs: one flattened MatMul for a shared weight, no work for inputs not asked for', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 8]);
    const w = g.param('w', 'float32', [16, 8]);
    const loss = ops.sum(ops.linear(x, w), [0, 1, 2]);
    const before = g.nodes.length;
    grad(loss, [w]);
    const backward = g.nodes.slice(before).map((n) => n.op);
    expect(backward.filter((op) => op === 'MatMul')).toHaveLength(1); // dW = xᵀ·dy over flattened rows; no dx
    expect(backward).not.toContain('ReduceSum');
  });
});
