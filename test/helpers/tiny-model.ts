// A tiny Face-LLaVA model directory with random weights (a 2-layer CLIP ViT on 32×32 crops, a 1-layer LLaMA over
// the real 32000-piece vocabulary): fast to load and to run, so tests can go through the whole model path.
import { f32, numel, type HostTensor } from '../../src/graph/host.js';
import { loadPretrained, modelParams, parseModelDirConfig, savePretrained, type ModelDirConfigInput, type NpmEncoderSpec, type ResolvedEncoder } from '../../src/model/pretrained.js';
import { npmPreprocess } from '../../src/model/vision/npm-encoder.js';
import { mulberry32 } from '../../src/util/random.js';
import { relativeError } from './error.js';

export const TINY: ModelDirConfigInput = {
  face_llava: {
    vision: { type: 'clip_vit', image_size: 32, patch_size: 16, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 },
    cross_attn: { cross_attn_type: 'frgca', num_heads: 2 },
    llm: { vocab_size: 32000, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64 },
  },
  preprocess: { image_size: 32 },
  encoder: { kind: 'clip_vit' },
  generation: { max_new_tokens: 8 },
  tasks: ['expression'],
};

/** A tiny model over an npm encoder's map [channels, grid, grid] at `inputSize` px: no landmark branch, a 1-layer LLaMA. */
export function tinyNpmConfig(encoder: NpmEncoderSpec, map: { channels: number; grid: number; inputSize: number }): ModelDirConfigInput {
  return {
    face_llava: {
      vision: { type: 'feature_map', channels: map.channels, grid: map.grid },
      cross_attn: { cross_attn_type: 'none' },
      llm: { vocab_size: 32000, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, tie_word_embeddings: true },
    },
    preprocess: npmPreprocess(map.inputSize),
    encoder,
    tasks: ['expression'],
  };
}

/**
 * Every weight of a model of `config`, uniform in ±0.1, the same for the same seed. With an npm encoder, its
 * resolved `encoder`: the network's own weights stay with it (they are not the model's).
 */
export function randomWeights(config: ModelDirConfigInput, seed = 1, encoder?: ResolvedEncoder): Map<string, HostTensor> {
  const random = mulberry32(seed);
  const own = encoder?.weights?.tensors;
  return new Map(
    modelParams(parseModelDirConfig(config).face_llava, encoder?.network)
      .filter((p) => !own?.has(p.name))
      .map((p) => [p.name, f32(p.shape, Array.from({ length: numel(p.shape) }, () => (random() - 0.5) * 0.2))]),
  );
}

/** Writes a model directory of `config` with random weights; returns its absolute path. */
export function saveTinyModel(dir: string, config: ModelDirConfigInput = TINY, seed = 1): Promise<string> {
  return savePretrained(dir, { config, weights: randomWeights(config, seed) });
}

/** How far apart two model directories encode the same frames (relative error; shapes must agree), each loaded and released. */
export async function encodingGap(a: string, b: string, frames: HostTensor): Promise<number> {
  const [first, second] = [await loadPretrained(a), await loadPretrained(b)];
  try {
    const [x, y] = [await first.model.encodeMedia(frames), await second.model.encodeMedia(frames)];
    if (x.shape.join() !== y.shape.join()) throw new Error(`encodingGap: [${x.shape.join(', ')}] vs [${y.shape.join(', ')}]`);
    return relativeError(y.data as Float32Array, x.data as Float32Array);
  } finally {
    await first.dispose();
    await second.dispose();
  }
}
