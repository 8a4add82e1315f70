// A tiny Face-LLaVA model directory with random weights (a 2-layer CLIP ViT on 32×32 crops, a 1-layer LLaMA over
// the real 32000-piece vocabulary): fast to load and to run, so tests can go through the whole model path.
import { f32, numel, type HostTensor } from '../../src/graph/host.js';
import { modelParams, parseModelDirConfig, savePretrained, type ModelDirConfigInput } from '../../src/model/pretrained.js';
import { mulberry32 } from '../../src/util/random.js';

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

/** Every weight of a model of `config`, uniform in ±0.1, the same for the same seed. */
export function randomWeights(config: ModelDirConfigInput, seed = 1): Map<string, HostTensor> {
  const random = mulberry32(seed);
  return new Map(
    modelParams(parseModelDirConfig(config).face_llava).map((p) => [p.name, f32(p.shape, Array.from({ length: numel(p.shape) }, () => (random() - 0.5) * 0.2))]),
  );
}

/** Writes a model directory of `config` with random weights; returns its absolute path. */
export function saveTinyModel(dir: string, config: ModelDirConfigInput = TINY, seed = 1): Promise<string> {
  return savePretrained(dir, { config, weights: randomWeights(config, seed) });
}
