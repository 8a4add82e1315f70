// P_V — the projector from the encoder's token width to the LLM's (LLaVA's `mm_projector`, relative to the
// model scope): `linear` is one nn.Linear, `mlp2x_gelu` is nn.Sequential(Linear, GELU, Linear) whose linear
// layers are `mm_projector.0` and `mm_projector.2` (nn.GELU: the exact, erf form).
import type { Tensor } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { linearLayer } from './vision/layers.js';

export type ProjectorType = 'linear' | 'mlp2x_gelu';

/** Tokens [..., C] → [..., width]. */
export function projector(tokens: Tensor, type: ProjectorType, width: number): Tensor {
  if (type === 'linear') return linearLayer('mm_projector', tokens, width);
  const hidden = ops.gelu(linearLayer('mm_projector.0', tokens, width));
  return linearLayer('mm_projector.2', hidden, width);
}
