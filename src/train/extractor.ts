// The frozen encoder of a model directory as a FeatureExtractor: crops → the directory's preprocessing → the
// vision encoder (a CLIP tower from the checkpoint, or an npm network) → tokens [F, N, C], one onnxruntime session.
// For an npm encoder trained from a split (`train_from`), only the frozen prefix runs here: its map, as tokens
// [F, G'², C'], is what is cached, and the training graph runs the tail (train/graph.ts).
import { createHash } from 'node:crypto';
import { Graph } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import { compile, type Session } from '../graph/session.js';
import { loadWeights, type WeightSource } from '../model/checkpoint.js';
import { preprocessFrames } from '../model/preprocess.js';
import type { ModelDirConfig, ResolvedEncoder } from '../model/pretrained.js';
import { visualEncoder } from '../model/vision/encoder.js';
import { gridTokens } from '../model/regions.js';
import type { RgbImage } from '../face/rgb.js';
import type { FeatureExtractor } from './features.js';

export interface EncoderExtractor extends FeatureExtractor {
  release(): Promise<void>;
}

/**
 * The extractor of a model: `weights` holds a clip_vit tower's weights (the model's checkpoint); an npm encoder
 * brings its own. The id covers the encoder's config, its preprocessing and the bytes of its weights.
 */
export async function encoderExtractor(
  config: ModelDirConfig,
  o: { encoder?: ResolvedEncoder; weights?: WeightSource; threads?: number },
): Promise<EncoderExtractor> {
  const cfg = config.face_llava;
  const split = o.encoder?.split;
  const encoder = visualEncoder(cfg.vision, o.encoder?.network);
  const g = new Graph('face_llava_encoder');
  const pixels = g.input('pixel_values', 'float32', ['frames', ...encoder.frameShape]);
  const tokens = split ? gridTokens(split.prefix.build(pixels)) : encoder.encode(pixels);
  g.output('tokens', tokens);
  const sources = [o.encoder?.weights, o.weights].filter((s): s is WeightSource => s !== undefined);
  const params = g.params.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape as number[] }));
  const { weights } = loadWeights(params, sources, { strict: false });
  const missing = params.filter((p) => !weights.has(p.name)).map((p) => p.name);
  if (missing.length) throw new Error(`the vision encoder's weights are missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);

  const hash = createHash('sha256').update(JSON.stringify({ vision: cfg.vision, encoder: config.encoder, preprocess: config.preprocess }));
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    hash.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const session: Session = await compile(g, { params: 'initializers', weights: (name) => weights.get(name), threads: o.threads, noCache: true });
  const [n, c] = [tokens.dim(1), tokens.dim(2)];
  if (typeof n !== 'number' || typeof c !== 'number') throw new Error(`the vision encoder's tokens ${tokens} need fixed sizes`);
  return {
    id: hash.digest('hex'),
    tokens: n,
    width: c,
    async encode(crops: readonly RgbImage[]): Promise<HostTensor> {
      return (await session.run({ pixel_values: await preprocessFrames(crops, config.preprocess) })).tokens;
    },
    release: () => session.release(),
  };
}
