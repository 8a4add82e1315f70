// Multi-head scaled dot-product attention over token sequences [..., L, d], shared by the vision transformer's
// self-attention and the cross-attention from visual tokens to face-region tokens (FRGCA and the released
// variant). Leading dimensions (batch, frames) pass through untouched.
import type { Tensor } from '../../graph/graph.js';
import { GraphBuildError } from '../../graph/graph.js';
import * as ops from '../../graph/ops.js';

/** [..., L, d] → [..., H, L, d/H]. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const width = x.dim(-1);
  if (typeof width !== 'number' || width % heads !== 0) {
    throw new GraphBuildError(`splitHeads: width of ${x} is not divisible by ${heads} heads`);
  }
  const copy = Array<number>(x.rank - 1).fill(0); // Reshape's 0 keeps a dimension as it is
  return ops.transpose(ops.reshape(x, [...copy, heads, width / heads]), swapAxes(x.rank + 1, -3, -2));
}

/** [..., H, L, d/H] → [..., L, d]. */
export function mergeHeads(x: Tensor): Tensor {
  const heads = x.dim(-3);
  const headDim = x.dim(-1);
  if (typeof heads !== 'number' || typeof headDim !== 'number') throw new GraphBuildError(`mergeHeads: ${x} needs fixed head sizes`);
  const merged = ops.transpose(x, swapAxes(x.rank, -3, -2));
  return ops.reshape(merged, [...Array<number>(x.rank - 2).fill(0), heads * headDim]);
}

/**
 * softmax(Q Kᵀ / √d_head + bias) V per head, for q [..., Lq, d] and k, v [..., Lk, d] already projected;
 * `bias` broadcasts against the scores [..., H, Lq, Lk] (an additive mask). Returns [..., Lq, d].
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, bias?: Tensor): Tensor {
  const qh = splitHeads(q, heads);
  const kh = splitHeads(k, heads);
  const vh = splitHeads(v, heads);
  const headDim = qh.dim(-1) as number;
  let scores = ops.matmul(ops.mul(qh, 1 / Math.sqrt(headDim)), ops.transpose(kh, swapAxes(kh.rank, -2, -1)));
  if (bias) scores = ops.add(scores, bias);
  return mergeHeads(ops.matmul(ops.softmax(scores, -1), vh));
}

/** The permutation of `rank` axes that swaps axes `a` and `b` (negative: from the end). */
function swapAxes(rank: number, a: number, b: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank + a], perm[rank + b]] = [perm[rank + b], perm[rank + a]];
  return perm;
}
