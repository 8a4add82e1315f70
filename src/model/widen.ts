// Widening a trained model's encoder: more frozen npm networks appended to its map along the channels (the
// encoder spec's `concat`), without losing what the model has learned.
//
// The projector's first layer reads the tokens, P_V(z) = W2·GELU(W1·z + b1) + b2 with W1 ∈ R^{D×C}. Appending C'
// channels z' to every token, z ↦ [z; z'], and W1 ↦ [W1, 0] leaves W1·[z; z'] = W1·z: the widened model answers
// exactly as the trained one did, and training from it (`train --init`) starts from the trained model rather than
// from nothing. The zero columns still get gradients (∂L/∂W1' = δ·z'ᵀ with z' ≠ 0), so they learn to read the new
// channels. That first layer is the one place a token's width is read (`linear` projectors have only it; FRGCA
// reads the projected tokens).
import { Graph } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import { openCheckpoint } from '../graph/safetensors.js';
import { resolve } from 'node:path';
import { readModelDirConfig, resolveEncoder, savePretrained, type NpmEncoderSpec } from './pretrained.js';
import { extendStatistics, TOKEN_NORM_MEAN, TOKEN_NORM_STD } from './token-norm.js';
import type { NetworkRef } from './vision/npm-encoder.js';

/** The projector's first linear layer, whose input is the token width. */
export const PROJECTOR_INPUT_WEIGHT = 'model.mm_projector.0.weight';
const LINEAR_PROJECTOR_WEIGHT = 'model.mm_projector.weight';

/** The name of the weight that reads the tokens: `mlp2x_gelu`'s first layer, or a `linear` projector's only one. */
export function projectorInputWeight(weights: ReadonlyMap<string, unknown>): string {
  return weights.has(PROJECTOR_INPUT_WEIGHT) ? PROJECTOR_INPUT_WEIGHT : LINEAR_PROJECTOR_WEIGHT;
}

/** W [D, C] → [W, 0] of shape [D, C + extra]. */
export function padInputColumns(weight: HostTensor, extra: number): HostTensor {
  if (weight.dtype !== 'float32' || weight.shape.length !== 2) throw new Error(`widen: the projector weight must be a float32 matrix, got ${weight.dtype} [${weight.shape.join(', ')}]`);
  const [rows, cols] = weight.shape;
  const from = weight.data as Float32Array;
  const data = new Float32Array(rows * (cols + extra));
  for (let r = 0; r < rows; r++) data.set(from.subarray(r * cols, (r + 1) * cols), r * (cols + extra));
  return { dtype: 'float32', shape: [rows, cols + extra], data };
}

/** The channels C of the [F, C, G, G] map an npm encoder spec builds (its graph is built, not run). */
export async function mapChannels(spec: NpmEncoderSpec): Promise<number> {
  const { network } = await resolveEncoder(spec);
  const g = new Graph('widen_probe');
  const map = network.build(g.input('frames', 'float32', [1, ...network.inputShape]));
  return map.dim(1) as number;
}

export interface WidenOptions {
  /** Store the weights as float16 (the trained model's own dtype is not kept: loading made them float32). */
  readonly dtype?: 'float16' | 'bfloat16';
}

/**
 * Writes to `to` the model of `from` with `networks` appended to its npm encoder: config (encoder.concat,
 * face_llava.vision.channels) and weights (the projector's input columns, zero for the new channels); no model
 * card, since the card of `from` does not describe the result. The result answers as `from` does; it is a
 * starting point for `train --init`.
 */
export async function widenEncoder(from: string, to: string, networks: readonly NetworkRef[], options: WidenOptions = {}): Promise<string> {
  if (!networks.length) throw new Error('widen: no network to append');
  const source = resolve(from);
  const config = await readModelDirConfig(source);
  if (config.encoder.kind !== 'npm' || config.face_llava.vision.type !== 'feature_map') throw new Error('widen: only a model with an npm encoder can be widened');
  if (config.encoder.train_from !== undefined) throw new Error('widen: an encoder trained from a split (`train_from`) cannot take `concat`');
  const before = config.face_llava.vision.channels;
  const previous = (config.encoder.concat as NetworkRef[] | undefined) ?? [];
  const encoder: NpmEncoderSpec = { ...config.encoder, concat: [...previous, ...networks] };
  const channels = await mapChannels(encoder);
  const weights = openCheckpoint(source).loadAll({ toFloat32: true });
  const name = projectorInputWeight(weights);
  const weight = weights.get(name);
  if (!weight) throw new Error(`widen: ${source} has no projector weight (${PROJECTOR_INPUT_WEIGHT})`);
  if (weight.shape[1] !== before) throw new Error(`widen: ${name} reads ${weight.shape[1]} channels, the config says ${before}`);
  weights.set(name, padInputColumns(weight, channels - before));
  // A model reading standardized tokens passes the new channels through as they are (μ 0, σ 1).
  if (config.face_llava.standardize_tokens) {
    const stats = { mean: weights.get(TOKEN_NORM_MEAN), std: weights.get(TOKEN_NORM_STD) };
    if (!stats.mean || !stats.std) throw new Error(`widen: ${source} reads standardized tokens but has no ${TOKEN_NORM_MEAN} / ${TOKEN_NORM_STD}`);
    const wider = extendStatistics({ mean: stats.mean, std: stats.std }, channels - before);
    weights.set(TOKEN_NORM_MEAN, wider.mean);
    weights.set(TOKEN_NORM_STD, wider.std);
  }
  return savePretrained(to, {
    config: {
      ...config,
      encoder,
      face_llava: { ...config.face_llava, vision: { ...config.face_llava.vision, channels } },
      widened_from: { model: source, channels: before },
    },
    weights,
    dtype: options.dtype,
  });
}
