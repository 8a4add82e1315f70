// Standardized encoder tokens (src/model/token-norm.ts): the statistics, the fold that lets a trained model read
// standardized tokens and answer as before, and the graph that applies them.
import { describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.js';
import { f32, type HostTensor } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { compile } from '../src/graph/session.js';
import { extendStatistics, foldIntoProjector, standardizeTokens, TokenStatistics } from '../src/model/token-norm.js';
import { mulberry32 } from '../src/util/random.js';
import { relativeError } from './helpers/error.js';

const values = (t: HostTensor) => Array.from(t.data as Float32Array);

describe('token statistics', () => {
  it('are each channel’s mean and population standard deviation over every token added, in any number of parts', () => {
    const s = new TokenStatistics(3);
    // channel 0: 1, 3, 5, 7 (μ 4, σ √5); channel 1: constant 2 (σ 0 → 1); channel 2: ±10 (μ 0, σ 10).
    s.add(Float32Array.from([1, 2, -10, 3, 2, 10]));
    s.add(Float32Array.from([5, 2, -10, 7, 2, 10]));
    const { mean, std } = s.result();
    expect(s.count).toBe(4);
    expect(values(mean)).toEqual([4, 2, 0]);
    expect(values(std)[0]).toBeCloseTo(Math.sqrt(5), 5);
    expect(values(std)[1]).toBe(1);
    expect(values(std)[2]).toBeCloseTo(10, 5);
  });

  it('refuse rows of another width, and an empty measurement', () => {
    expect(() => new TokenStatistics(3).add(new Float32Array(4))).toThrow(/not rows of 3/);
    expect(() => new TokenStatistics(3).result()).toThrow(/no tokens/);
  });

  it('extend to appended channels as μ 0, σ 1', () => {
    const wider = extendStatistics({ mean: f32([2], [1, 2]), std: f32([2], [3, 4]) }, 2);
    expect([values(wider.mean), values(wider.std)]).toEqual([
      [1, 2, 0, 0],
      [3, 4, 1, 1],
    ]);
  });
});

describe('folding the statistics into the projector', () => {
  it('gives a first layer that computes on standardized tokens, in the graph, what the original computed on raw ones', async () => {
    const [rows, cols, n] = [5, 6, 4];
    const random = mulberry32(3);
    const draw = (k: number, scale = 1, offset = 0) => Array.from({ length: k }, () => offset + scale * (random() - 0.5));
    const weight = f32([rows, cols], draw(rows * cols));
    const bias = f32([rows], draw(rows));
    // Channels of very different scales and offsets, as the concatenated networks' are.
    const stats = { mean: f32([cols], draw(cols, 4)), std: f32([cols], draw(cols, 7.5, 4)) };
    const tokens = f32([n, cols], draw(n * cols, 10));
    const folded = foldIntoProjector(weight, bias, stats);

    const g = new Graph('fold');
    const z = g.input('z', 'float32', [n, cols]);
    const w = g.input('w', 'float32', [rows, cols]);
    const b = g.input('b', 'float32', [rows]);
    g.output('raw', ops.linear(z, w, b));
    g.output('standardized', ops.linear(standardizeTokens(z), w, b));
    const session = await compile(g, { params: 'inputs' });
    try {
      const raw = (await session.run({ z: tokens, w: weight, b: bias, 'token_norm.mean': stats.mean, 'token_norm.std': stats.std })).raw;
      const std = (await session.run({ z: tokens, w: folded.weight, b: folded.bias, 'token_norm.mean': stats.mean, 'token_norm.std': stats.std })).standardized;
      expect(relativeError(values(std), values(raw))).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  it('refuses a layer without a bias (it cannot absorb W·μ) and statistics of another width', () => {
    const weight = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const stats = { mean: f32([3], [0, 0, 0]), std: f32([3], [1, 1, 1]) };
    expect(() => foldIntoProjector(weight, undefined, stats)).toThrow(/needs a float32 bias of 2/);
    expect(() => foldIntoProjector(weight, f32([2], [0, 0]), { mean: f32([2], [0, 0]), std: f32([2], [1, 1]) })).toThrow(/statistics of 2 channels for a projector that reads 3/);
  });
});
