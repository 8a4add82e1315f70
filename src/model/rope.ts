// Rotary position embeddings (RoPE) in the convention of Hugging Face LLaMA ("rotate half", GPT-NeoX style).
//
// For a head of size d and a position p, channel pairs (i, i + d/2), i < d/2, are rotated by the angle p·θ_i with
//   θ_i = base^(−2i/d)                                   (base = rope_theta, 10000 for LLaMA)
// which, with cos/sin duplicated to full width ([cos θ·p, cos θ·p]), is
//   rope(x) = x·cos + rotate_half(x)·sin,   rotate_half([x₁, x₂]) = [−x₂, x₁]   (x₁, x₂ the two halves of x).
// The angle tables are computed on the host in float64 and looked up by position id in the graph (a Gather),
// so the graph holds no trigonometry and a training graph differentiates through plain Mul/Add/Concat. The same
// half-width tables are the `cos_cache`/`sin_cache` inputs of onnxruntime's fused rotary kernels.
import type { DType } from '../graph/dtype.js';
import type { Graph, Tensor } from '../graph/graph.js';
import { hostTensor, type HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';

/** θ_i = base^(−2i/d), i = 0 … d/2 − 1. */
export function inverseFrequencies(headDim: number, base: number): Float64Array {
  if (headDim % 2 !== 0) throw new Error(`rope: head dimension must be even, got ${headDim}`);
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = base ** ((-2 * i) / headDim);
  return inv;
}

export interface RotaryTables {
  /** cos(p·θ_i), shape [positions, d/2]. */
  readonly cos: HostTensor;
  /** sin(p·θ_i), shape [positions, d/2]. */
  readonly sin: HostTensor;
}

/** Half-width angle tables for positions 0 … positions − 1, computed in float64 and stored as `dtype`. */
export function rotaryTables(headDim: number, base: number, positions: number, dtype: DType = 'float32'): RotaryTables {
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`rope: tables must be float32 or float64, got ${dtype}`);
  const inv = inverseFrequencies(headDim, base);
  const half = inv.length;
  const cos = hostTensor(dtype, [positions, half]);
  const sin = hostTensor(dtype, [positions, half]);
  const c = cos.data as Float32Array | Float64Array;
  const s = sin.data as Float32Array | Float64Array;
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * inv[i];
      c[p * half + i] = Math.cos(angle);
      s[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Full-width cos and sin for `positionIds` [B, S] (int64): [B, S, 1, d], to broadcast over heads in [B, S, H, d]. */
export function rotaryCosSin(g: Graph, tables: RotaryTables, positionIds: Tensor): { cos: Tensor; sin: Tensor } {
  const widen = (table: HostTensor) => {
    const half = ops.gather(g.constant(table, 'rope_table'), positionIds, 0); // [B, S, d/2]
    return ops.unsqueeze(ops.concat([half, half], -1), [2]);
  };
  return { cos: widen(tables.cos), sin: widen(tables.sin) };
}

/** rotate_half([x₁, x₂]) = [−x₂, x₁] over the last axis. */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.dim(-1);
  if (typeof d !== 'number' || d % 2 !== 0) throw new Error(`rotateHalf: last dimension of ${x} must be a fixed even size`);
  const [x1, x2] = ops.split(x, [d / 2, d / 2], -1);
  return ops.concat([ops.neg(x2), x1], -1);
}

/** rope(x) = x·cos + rotate_half(x)·sin, with cos/sin broadcastable to x (e.g. from rotaryCosSin). */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return ops.add(ops.mul(x, cos), ops.mul(rotateHalf(x), sin));
}
