// The frozen encoder of a model directory as a FeatureExtractor: crops → the directory's preprocessing → the
// vision encoder (a CLIP tower from the checkpoint, or an npm network) → tokens [F, N, C], one onnxruntime session.
// For an npm encoder trained from a split (`train_from`), only the frozen prefix runs here: its map, as tokens
// [F, G'², C'], is what is cached, and the training graph runs the tail (train/graph.ts).
// The mirrored view (`mirrored`) encodes each crop's mirror image and flips the token grid back — one half of what
// inference averages with the mirror on (model/mirror.ts) — for training on either view of a face.
import { createHash } from 'node:crypto';
import { Graph } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import { compile, type Session } from '../graph/session.js';
import { loadWeights, type WeightSource } from '../model/checkpoint.js';
import { preprocessFrames } from '../model/preprocess.js';
import type { ModelDirConfig, ResolvedEncoder } from '../model/pretrained.js';
import { visualEncoder } from '../model/vision/encoder.js';
import { flipGrid, mirrorFrames } from '../model/mirror.js';
import { gridTokens } from '../model/regions.js';
import type { RgbImage } from '../face/rgb.js';
import type { FeatureExtractor } from './features.js';

export interface EncoderExtractor extends FeatureExtractor {
  release(): Promise<void>;
}

/**
 * The extractor of a model: `weights` holds a clip_vit tower's weights (the model's checkpoint); an npm encoder
 * brings its own. The id covers the encoder's config, its preprocessing, the bytes of its weights and the view.
 */
export async function encoderExtractor(
  config: ModelDirConfig,
  o: { encoder?: ResolvedEncoder; weights?: WeightSource; threads?: number; mirrored?: boolean },
): Promise<EncoderExtractor> {
  const cfg = config.face_llava;
  const split = o.encoder?.split;
  // A split encoder's cached map goes through a tail in the training graph: its mirror would have to be flipped
  // back after that tail, not here.
  if (o.mirrored && split) throw new Error('mirrored views of the encoder tokens need a frozen encoder: the model trains part of its encoder (train_from)');
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

  const hash = createHash('sha256').update(
    JSON.stringify({ vision: cfg.vision, encoder: config.encoder, preprocess: config.preprocess, ...(o.mirrored && { view: 'mirrored' }) }),
  );
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
      const frames = await preprocessFrames(crops, config.preprocess);
      if (!o.mirrored) return (await session.run({ pixel_values: frames })).tokens;
      return flipGrid((await session.run({ pixel_values: mirrorFrames(frames) })).tokens, encoder.grid);
    },
    release: () => session.release(),
  };
}
