// Parameterized layers in PyTorch's checkpoint layout, for the visual-token path of the model (vision
// transformer, projector, FRLP, cross-attention): each declares its weights under the current graph scope.
import type { Tensor } from '../../graph/graph.js';
import * as ops from '../../graph/ops.js';

/** nn.Linear under `name`: y = x Wᵀ + b with weight [out, in] and bias [out]. */
export function linearLayer(name: string, x: Tensor, out: number, bias = true): Tensor {
  const g = x.graph;
  const inputs = x.dim(-1) as number;
  return g.scope(name, () =>
    ops.linear(x, g.param('weight', 'float32', [out, inputs]), bias ? g.param('bias', 'float32', [out]) : undefined),
  );
}

/** nn.LayerNorm under `name` over the last axis: weight and bias [width]. */
export function layerNormLayer(name: string, x: Tensor, eps: number): Tensor {
  const g = x.graph;
  const width = x.dim(-1) as number;
  return g.scope(name, () => ops.layerNorm(x, g.param('weight', 'float32', [width]), g.param('bias', 'float32', [width]), eps));
}
