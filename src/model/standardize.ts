// Turning `standardize_tokens` on in a trained model (token-norm.ts): the statistics join its weights and the
// projector's first layer is folded so that the model answers exactly as before — a starting point for
// `train --init` in which every encoder channel moves the projector at the same rate.
import { openCheckpoint } from '../graph/safetensors.js';
import type { HostTensor } from '../graph/host.js';
import { resolve } from 'node:path';
import { readModelDirConfig, type ResolvedEncoder, savePretrained } from './pretrained.js';
import { foldIntoProjector, TOKEN_NORM_MEAN, TOKEN_NORM_STD } from './token-norm.js';
import { projectorInputWeight } from './widen.js';

/**
 * Writes to `to` the model of `from` reading tokens standardized by `stats` (μ, σ of each encoder channel): config
 * `standardize_tokens`, the statistics as `model.token_norm.{mean,std}`, the projector's first layer folded
 * (W·diag(σ), b + W·μ). No model card: the card of `from` does not describe the result. `encoder`: the model's npm
 * encoder, resolved (needed for one outside the registry).
 */
export async function standardizeModel(from: string, to: string, stats: { mean: HostTensor; std: HostTensor; frames?: number }, options: { dtype?: 'float16' | 'bfloat16'; encoder?: ResolvedEncoder } = {}): Promise<string> {
  const source = resolve(from);
  const config = await readModelDirConfig(source);
  if (config.face_llava.standardize_tokens) throw new Error(`standardize: ${source} reads standardized tokens already`);
  const weights = openCheckpoint(source).loadAll({ toFloat32: true });
  const name = projectorInputWeight(weights);
  const layer = name.replace(/\.weight$/, '');
  const weight = weights.get(name);
  if (!weight) throw new Error(`standardize: ${source} has no projector weight (${name})`);
  const folded = foldIntoProjector(weight, weights.get(`${layer}.bias`), stats);
  weights.set(name, folded.weight);
  weights.set(`${layer}.bias`, folded.bias);
  weights.set(TOKEN_NORM_MEAN, stats.mean);
  weights.set(TOKEN_NORM_STD, stats.std);
  return savePretrained(to, {
    config: {
      ...config,
      face_llava: { ...config.face_llava, standardize_tokens: true },
      standardized_from: { model: source, ...(stats.frames !== undefined && { frames: stats.frames }) },
    },
    weights,
    dtype: options.dtype,
    encoder: options.encoder,
  });
}
