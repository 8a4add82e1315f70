// Cross-attention from the visual tokens h_v [..., N, d] of each frame to its face-region tokens h_l [..., R, d]
// (from FRLP), refining the visual tokens without adding any to the LLM's context. Time is handled frame by frame:
// leading dimensions (batch, frames) are independent. Two variants:
//
//  - `frgca`, the paper's Face-Region Guided Cross-Attention, with the optional Region-Patch Proximity mask m:
//
//      h_v^l = Linear_out( softmax(Q Kᵀ / √d_head + m) V ) + h_v,   Q = Linear_q(h_v), K = Linear_k(h_l), V = Linear_v(h_l)
//
//    weights `landmarks_cross_attn.{q,k,v,out}_proj` (relative to the model scope);
//
//  - `simple`, what the authors' released code actually runs (no mask):
//
//      h_v^l = h_v + s · linear_proj( LN(h_v + MHA(q = h_v, k = v = h_l)) ),   s = branch_scale
//
//    with nn.MultiheadAttention's packed projections: weights `landmarks_cross_attn.cross_attn.attn.{in_proj_weight,
//    in_proj_bias,out_proj}`, `landmarks_cross_attn.cross_attn.ln`, `landmarks_cross_attn.linear_proj`.
import type { Tensor } from '../graph/graph.js';
import { GraphBuildError } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { type FaceRegion, type PatchGrid, rppMask, tokensPerFrame } from './regions.js';
import { multiHeadAttention } from './vision/attention.js';
import { layerNormLayer, linearLayer } from './vision/layers.js';

export interface FrgcaOptions {
  readonly heads: number;
  /** Add the Region-Patch Proximity mask to the attention logits (the paper's ablation switches it off). */
  readonly rppMask: boolean;
  /** Where each visual token lies, for the mask. */
  readonly grid: PatchGrid;
  readonly regions: readonly FaceRegion[];
}

/** The paper's FRGCA: visual tokens [..., N, d], region tokens [..., R, d], landmarks [..., 68, 2] → [..., N, d]. */
export function frgca(visual: Tensor, regionTokens: Tensor, landmarks: Tensor, o: FrgcaOptions): Tensor {
  const width = visual.dim(-1) as number;
  if (visual.dim(-2) !== tokensPerFrame(o.grid)) {
    throw new GraphBuildError(`frgca: ${visual} does not hold the ${tokensPerFrame(o.grid)} tokens of its grid`);
  }
  return visual.graph.scope('landmarks_cross_attn', () => {
    const q = linearLayer('q_proj', visual, width);
    const k = linearLayer('k_proj', regionTokens, width);
    const v = linearLayer('v_proj', regionTokens, width);
    // m [..., N, R] broadcasts over the heads of the scores [..., H, N, R].
    const mask = o.rppMask ? ops.unsqueeze(rppMask(landmarks, o.grid, o.regions), [-3]) : undefined;
    return ops.add(linearLayer('out_proj', multiHeadAttention(q, k, v, o.heads, mask), width), visual);
  });
}

export interface SimpleCrossAttentionOptions {
  readonly heads: number;
  /** s in h_v + s · linear_proj(…). */
  readonly branchScale: number;
  readonly layerNormEps: number;
}

/** The released code's cross-attention (`LandmarkGuidedCrossAttention`): visual [..., N, d], regions [..., R, d]. */
export function simpleCrossAttention(visual: Tensor, regionTokens: Tensor, o: SimpleCrossAttentionOptions): Tensor {
  const g = visual.graph;
  const width = visual.dim(-1) as number;
  return g.scope('landmarks_cross_attn', () => {
    const attended = g.scope('cross_attn', () => {
      const mha = g.scope('attn', () => {
        // in_proj_weight stacks W_q, W_k, W_v as rows [3d, d]; in_proj_bias likewise [3d].
        const [wq, wk, wv] = ops.split(g.param('in_proj_weight', 'float32', [3 * width, width]), [width, width, width], 0);
        const [bq, bk, bv] = ops.split(g.param('in_proj_bias', 'float32', [3 * width]), [width, width, width], 0);
        const q = ops.linear(visual, wq, bq);
        const k = ops.linear(regionTokens, wk, bk);
        const v = ops.linear(regionTokens, wv, bv);
        return linearLayer('out_proj', multiHeadAttention(q, k, v, o.heads), width);
      });
      return layerNormLayer('ln', ops.add(visual, mha), o.layerNormEps);
    });
    return ops.add(visual, ops.mul(linearLayer('linear_proj', attended, width), o.branchScale));
  });
}

/**
 * Checkpoint keys of the released `simple` module that its forward never reads: a second LayerNorm whose call
 * is commented out in the authors' code.
 */
export const SIMPLE_CROSS_ATTENTION_UNUSED = ['landmarks_cross_attn.ln.weight', 'landmarks_cross_attn.ln.bias'];
