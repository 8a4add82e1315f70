import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.js';
import { f32, hostTensor } from '../src/graph/host.js';
import * as ops from '../src/graph/ops.js';
import { encodeBfloat16, encodeFloat16, openCheckpoint, writeShardedSafetensors } from '../src/graph/safetensors.js';
import { CheckpointMismatchError, declaredParams, loadWeights, tensorSource } from '../src/model/checkpoint.js';
import { projector } from '../src/model/projector.js';

/** A graph declaring `model.mm_projector.{0,2}.{weight,bias}` (4 → 3 → 3). */
function projectorGraph(): Graph {
  const g = new Graph();
  g.output('y', g.scope('model', () => projector(g.input('x', 'float32', [1, 4]), 'mlp2x_gelu', 3)));
  return g;
}

const full = () =>
  new Map([
    ['model.mm_projector.0.weight', f32([3, 4], Array.from({ length: 12 }, (_, i) => i / 10))],
    ['model.mm_projector.0.bias', f32([3], [0.1, 0.2, 0.3])],
    ['model.mm_projector.2.weight', f32([3, 3], Array.from({ length: 9 }, (_, i) => -i / 10))],
    ['model.mm_projector.2.bias', f32([3], [1, 2, 3])],
  ]);

describe('checkpoint binding', () => {
  it('loads exactly the declared parameters', () => {
    const params = declaredParams(projectorGraph());
    expect(params.map((p) => p.name)).toEqual([...full().keys()]);
    const { weights, report } = loadWeights(params, tensorSource(full()));
    expect([...weights.keys()]).toEqual([...full().keys()]);
    expect(report).toEqual({ missing: [], unexpected: [], unused: [] });
  });

  it('names missing and unexpected keys, or reports them when not strict', () => {
    const tensors = full();
    tensors.delete('model.mm_projector.2.bias');
    tensors.set('model.landmarks_cross_attn.ln.weight', f32([3]));
    tensors.set('model.extra', f32([1]));
    const params = declaredParams(projectorGraph());
    let error: unknown;
    try {
      loadWeights(params, tensorSource(tensors));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toBe(
      'checkpoint does not match the model: missing 1: model.mm_projector.2.bias; ' +
        'unexpected 2: model.landmarks_cross_attn.ln.weight, model.extra',
    );
    const { weights, report } = loadWeights(params, tensorSource(tensors), { strict: false, unused: ['model.extra'] });
    expect(report).toEqual({ missing: ['model.mm_projector.2.bias'], unexpected: ['model.landmarks_cross_attn.ln.weight'], unused: ['model.extra'] });
    expect(weights.size).toBe(3);
  });

  it('refuses tensors of the wrong shape, listing each', () => {
    const tensors = full();
    tensors.set('model.mm_projector.0.weight', f32([4, 3]));
    expect(() => loadWeights(declaredParams(projectorGraph()), tensorSource(tensors))).toThrow(
      'model.mm_projector.0.weight: the model declares float32[3, 4], the checkpoint holds float32[4, 3]',
    );
  });

  it('reads float16 and bfloat16 from a sharded safetensors checkpoint as float32', () => {
    const tensors = full();
    const half = new Map([...tensors].map(([name, t], i) => {
      const values = t.data as Float32Array;
      return [name, i % 2 ? hostTensor('bfloat16', t.shape, encodeBfloat16(values)) : hostTensor('float16', t.shape, encodeFloat16(values))];
    }));
    const dir = mkdtempSync(join(tmpdir(), 'face-llava-ckpt-'));
    writeShardedSafetensors(dir, half, { maxShardBytes: 30 });
    const ckpt = openCheckpoint(dir);
    expect(ckpt.path).toMatch(/model\.safetensors\.index\.json$/);
    const { weights } = loadWeights(declaredParams(projectorGraph()), ckpt);
    for (const [name, t] of tensors) {
      const got = weights.get(name)!;
      expect(got.dtype).toBe('float32');
      got.data.forEach((v, i) => expect(Math.abs((v as number) - (t.data[i] as number))).toBeLessThanOrEqual(1e-2));
    }
  });

  it('draws on several sources and merges the parameters of several graphs', () => {
    const other = new Graph();
    other.output('z', ops.add(other.param('vision_model.pre_layrnorm.bias', 'float32', [3]), 1));
    const params = declaredParams(projectorGraph(), other, projectorGraph());
    expect(params).toHaveLength(5);
    const tower = new Map([['vision_model.pre_layrnorm.bias', f32([3])]]);
    expect(loadWeights(params, [tensorSource(full()), tensorSource(tower)]).weights.size).toBe(5);
    expect(() => loadWeights(params, [tensorSource(full()), tensorSource(full())])).toThrow(/"model\.mm_projector\.0\.weight" is in more than one source/);
    const clash = new Graph();
    clash.param('vision_model.pre_layrnorm.bias', 'float32', [4]);
    expect(() => declaredParams(other, clash)).toThrow(/declared as float32\[3\] and as float32\[4\]/);
  });
});
