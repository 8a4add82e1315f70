// A CLIP vision transformer (Hugging Face CLIPVisionModel; LanguageBind's image tower has the same layout), with
// weights under `vision_model.`:
//
//   x₀ = pre_layrnorm([class_embedding ; patch_embedding(pixels)] + position_embedding)     (conv without bias)
//   x_{l+1} = x_l' + fc2(act(fc1(LN₂(x_l'))))  with  x_l' = x_l + out_proj(MHA(LN₁(x_l)))  (pre-LN blocks)
//
// hidden_states = (x₀, x₁, …, x_L); LLaVA models feed the projector hidden_states[select_layer] (−2: the input
// of the last block), so only the blocks that layer needs are built. post_layernorm is never used by them.
import type { Tensor } from '../../graph/graph.js';
import { GraphBuildError } from '../../graph/graph.js';
import * as ops from '../../graph/ops.js';
import { gridTokens } from '../regions.js';
import { multiHeadAttention } from './attention.js';
import { layerNormLayer, linearLayer } from './layers.js';

export interface ClipVisionOptions {
  readonly imageSize: number;
  readonly patchSize: number;
  readonly channels: number;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediateSize: number;
  readonly hiddenAct: 'gelu' | 'quick_gelu';
  readonly layerNormEps: number;
}

/** Index into hidden_states (length L + 1) of `selectLayer`, Python-style: −1 is the last block's output. */
export function hiddenStateIndex(selectLayer: number, layers: number): number {
  const index = selectLayer < 0 ? layers + 1 + selectLayer : selectLayer;
  if (!Number.isInteger(index) || index < 0 || index > layers) {
    throw new GraphBuildError(`vision select layer ${selectLayer} is out of range for ${layers} layers`);
  }
  return index;
}

/**
 * hidden_states[0 … upTo] of the ViT for pixels [F, C, H, W] (F frames, symbolic or fixed), each [F, 1 + G², D]
 * with the CLS token first. Builds `upTo` blocks (default all).
 */
export function clipVisionHiddenStates(pixels: Tensor, o: ClipVisionOptions, upTo = o.layers): Tensor[] {
  if (pixels.rank !== 4 || pixels.dim(1) !== o.channels || pixels.dim(2) !== o.imageSize || pixels.dim(3) !== o.imageSize) {
    throw new GraphBuildError(`clip vision: pixels must be [frames, ${o.channels}, ${o.imageSize}, ${o.imageSize}], got ${pixels}`);
  }
  const g = pixels.graph;
  return g.scope('vision_model', () => {
    const states = [layerNormLayer('pre_layrnorm', embeddings(pixels, o), o.layerNormEps)];
    g.scope('encoder.layers', () => {
      for (let l = 0; l < upTo; l++) states.push(g.scope(String(l), () => encoderLayer(states[l], o)));
    });
    return states;
  });
}

/** [class_embedding ; patches] + position_embedding: [F, 1 + G², D]. */
function embeddings(pixels: Tensor, o: ClipVisionOptions): Tensor {
  const g = pixels.graph;
  const grid = o.imageSize / o.patchSize;
  if (!Number.isInteger(grid)) throw new GraphBuildError(`clip vision: image size ${o.imageSize} is not a multiple of patch size ${o.patchSize}`);
  const d = o.hiddenSize;
  return g.scope('embeddings', () => {
    const kernel = g.param('patch_embedding.weight', 'float32', [d, o.channels, o.patchSize, o.patchSize]);
    const map = ops.conv(pixels, kernel, null, { strides: [o.patchSize, o.patchSize] }); // [F, D, G, G]
    const patches = gridTokens(map); // [F, G², D]
    const cls = ops.reshape(g.param('class_embedding', 'float32', [d]), [1, 1, d]);
    const clsPerFrame = ops.expand(cls, ops.slice(patches, [1], [0], [1])); // [F, 1, D]
    const positions = g.param('position_embedding.weight', 'float32', [grid * grid + 1, d]);
    return ops.add(ops.concat([clsPerFrame, patches], 1), positions);
  });
}

function encoderLayer(x: Tensor, o: ClipVisionOptions): Tensor {
  const d = o.hiddenSize;
  const h = layerNormLayer('layer_norm1', x, o.layerNormEps);
  const attention = x.graph.scope('self_attn', () => {
    const q = linearLayer('q_proj', h, d);
    const k = linearLayer('k_proj', h, d);
    const v = linearLayer('v_proj', h, d);
    return linearLayer('out_proj', multiHeadAttention(q, k, v, o.heads), d);
  });
  const mid = ops.add(x, attention);
  const normed = layerNormLayer('layer_norm2', mid, o.layerNormEps);
  const mlp = x.graph.scope('mlp', () => {
    const hidden = linearLayer('fc1', normed, o.intermediateSize);
    return linearLayer('fc2', o.hiddenAct === 'gelu' ? ops.gelu(hidden) : ops.quickGelu(hidden), d);
  });
  return ops.add(mid, mlp);
}
