import { describe, expect, it } from 'vitest';
import { Graph, GraphBuildError, compile, f32, i64, ops } from '../src/graph/index.js';

describe('engine: build, emit, run', () => {
  it('runs a small graph with symbolic batch and matches a hand computation', async () => {
    const g = new Graph('mlp');
    const x = g.input('x', 'float32', ['batch', 3]);
    const w = g.param('w', 'float32', [2, 3]);
    const b = g.param('b', 'float32', [2]);
    const y = ops.relu(ops.linear(x, w, b));
    expect(y.shape).toEqual(['batch', 2]);
    g.output('y', y);
    const weights = { w: f32([2, 3], [1, 2, 3, -1, -2, -3]), b: f32([2], [0.5, 0.5]) };
    const s = await compile(g, { params: 'initializers', weights: (n) => weights[n as 'w' | 'b'] });
    const out = await s.run({ x: f32([2, 3], [1, 1, 1, 0, 1, 0]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([6.5, 0, 2.5, 0]);
    expect(out.y.shape).toEqual([2, 2]);
    const s2 = await compile(g, { params: 'inputs' });
    expect(s2.feeds).toEqual(['x', 'w', 'b']);
    const out2 = await s2.run({ x: f32([1, 3], [1, 1, 1]), ...weights });
    expect(Array.from(out2.y.data as Float32Array)).toEqual([6.5, 0]);
  });

  it('reports shape mismatches where the model is written', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [4, 3]);
    const b = g.input('b', 'float32', [4, 3]);
    expect(() => ops.matmul(a, b)).toThrow(GraphBuildError);
    expect(() => ops.matmul(a, b)).toThrow(/inner dimensions differ: a: float32\[4, 3\] × b: float32\[4, 3\]/);
    expect(() => ops.add(a, g.input('c', 'float32', [2]))).toThrow(/cannot broadcast \[4, 3\] with \[2\]/);
    expect(() => ops.reshape(a, [5, -1])).toThrow(/cannot reshape/);
    expect(() => ops.add(a, g.input('d', 'int64', [4, 3]))).toThrow(/dtype mismatch/);
  });

  it('covers shape ops, gather, slicing, cross-entropy', async () => {
    const g = new Graph('misc');
    const x = g.input('x', 'float32', [2, 3]);
    const idx = g.input('idx', 'int64', [2]);
    g.output('t', ops.transpose(x, [1, 0]));
    g.output('s', ops.slice(x, [1], [1], [Infinity]));
    g.output('g', ops.gather(x, idx, 1));
    const [p, q] = ops.split(x, [1, 2], 1);
    g.output('c', ops.concat([q, p], 1));
    g.output('ce', ops.crossEntropy(x, g.input('labels', 'int64', [2]), -100));
    const s = await compile(g, { params: 'inputs' });
    const out = await s.run({ x: f32([2, 3], [1, 2, 3, 4, 5, 6]), idx: i64([2], [2, 0]), labels: i64([2], [2, -100]) });
    expect(Array.from(out.t.data as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(out.s.shape).toEqual([2, 2]);
    expect(Array.from(out.g.data as Float32Array)).toEqual([3, 1, 6, 4]);
    expect(Array.from(out.c.data as Float32Array)).toEqual([2, 3, 1, 5, 6, 4]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect((out.ce.data as Float32Array)[0]).toBeCloseTo(lse - 3, 5);
  });

  it('emits an omitted trailing optional input so onnxruntime runs it at full optimization', async () => {
    // LayerNormalization without bias once crashed onnxruntime 1.30 at level `all` (a trailing '' input).
    const g = new Graph('ln');
    const x = g.input('x', 'float32', [2, 4]);
    g.output('y', ops.layerNorm(x, g.param('s', 'float32', [4]), null));
    const s = await compile(g, { params: 'initializers', weights: () => f32([4], [1, 1, 1, 1]) });
    const out = await s.run({ x: f32([2, 4], [1, 2, 3, 4, 0, 0, 0, 1]) });
    expect((out.y.data as Float32Array)[0]).toBeCloseTo(-1.3416, 3);
  });
});
