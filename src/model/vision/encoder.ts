// The visual encoder E_V as the rest of the model sees it: frames in, one token per patch out, plus where each
// token lies on the image (for the RPP mask). Two kinds: a CLIP vision transformer, and any frozen
// convolutional network whose [C, G, G] feature map becomes G² tokens.
import type { Tensor } from '../../graph/graph.js';
import type { HostTensor } from '../../graph/host.js';
import { GraphBuildError } from '../../graph/graph.js';
import * as ops from '../../graph/ops.js';
import type { ClipVitConfig, FeatureMapConfig, VisionConfig } from '../config.js';
import { type PatchGrid, gridTokens } from '../regions.js';
import { clipVisionHiddenStates, hiddenStateIndex } from './vit.js';

export interface VisualEncoder {
  /** One frame as the encoder takes it, e.g. [3, 224, 224] pixels. */
  readonly frameShape: readonly number[];
  /** Width C of the tokens (LLaVA's mm_hidden_size). */
  readonly width: number;
  /** Where token j lies: cell j of a G×G row-major grid, after a CLS token when `grid.cls`. */
  readonly grid: PatchGrid;
  /** Checkpoint keys of the encoder that the selected output never reads (e.g. the ViT blocks after it). */
  readonly unusedParams: readonly string[];
  /** Frames [F, ...frameShape] → tokens [F, N, C]. */
  encode(frames: Tensor): Tensor;
}

/** A frozen network from frames [F, ...inputShape] to a feature map [F, C, G, G], built into the graph. */
export interface FrozenNetwork {
  readonly inputShape: readonly number[];
  build(frames: Tensor): Tensor;
}

/**
 * A network split in two for training (an npm encoder's `train_from`): a frozen prefix, whose map is computed once
 * per crop and cached like any encoder's tokens, and a trainable tail from that map to the configured one. The
 * tail's weights start as the package ships them and are the model's own afterwards (stored in its checkpoint).
 */
export interface EncoderSplit {
  /** Frames → the map at the split [F, C', G', G']. */
  readonly prefix: FrozenNetwork;
  /** C' and G' of the prefix's map. */
  readonly channels: number;
  readonly grid: number;
  /** The prefix's map [F, C', G', G'] → the configured map [F, C, G, G]. */
  tail(map: Tensor): Tensor;
  /** The tail's weights as the package ships them, by parameter name: where training starts. */
  readonly initial: ReadonlyMap<string, HostTensor>;
}

/** The encoder a config describes; a `feature_map` encoder needs its network. */
export function visualEncoder(cfg: VisionConfig, network?: FrozenNetwork): VisualEncoder {
  if (cfg.type === 'clip_vit') return clipVitEncoder(cfg);
  if (!network) throw new Error('a feature_map vision encoder needs its frozen network');
  return featureMapEncoder(cfg, network);
}

/** hidden_states[mm_vision_select_layer] of a CLIP ViT, with or without its CLS token. */
export function clipVitEncoder(cfg: ClipVitConfig): VisualEncoder {
  const options = {
    imageSize: cfg.image_size,
    patchSize: cfg.patch_size,
    channels: cfg.num_channels,
    hiddenSize: cfg.hidden_size,
    layers: cfg.num_hidden_layers,
    heads: cfg.num_attention_heads,
    intermediateSize: cfg.intermediate_size,
    hiddenAct: cfg.hidden_act,
    layerNormEps: cfg.layer_norm_eps,
  };
  const index = hiddenStateIndex(cfg.mm_vision_select_layer, cfg.num_hidden_layers);
  const cls = cfg.mm_vision_select_feature === 'cls_patch';
  const unusedParams = ['vision_model.post_layernorm.weight', 'vision_model.post_layernorm.bias'];
  for (let l = index; l < cfg.num_hidden_layers; l++) unusedParams.push(...vitLayerKeys(l));
  return {
    frameShape: [cfg.num_channels, cfg.image_size, cfg.image_size],
    width: cfg.hidden_size,
    grid: { size: cfg.image_size / cfg.patch_size, cls },
    unusedParams,
    encode(frames) {
      const selected = clipVisionHiddenStates(frames, options, index)[index];
      return cls ? selected : ops.slice(selected, [1], [1], [Infinity]);
    },
  };
}

function vitLayerKeys(l: number): string[] {
  const p = `vision_model.encoder.layers.${l}`;
  const modules = ['layer_norm1', 'layer_norm2', 'mlp.fc1', 'mlp.fc2', ...['q', 'k', 'v', 'out'].map((x) => `self_attn.${x}_proj`)];
  return modules.flatMap((m) => [`${p}.${m}.weight`, `${p}.${m}.bias`]);
}

/** A frozen convolutional network's feature map as tokens: token j = cell j of the G×G grid, row-major. */
export function featureMapEncoder(cfg: FeatureMapConfig, network: FrozenNetwork): VisualEncoder {
  return {
    frameShape: network.inputShape,
    width: cfg.channels,
    grid: { size: cfg.grid, cls: false },
    unusedParams: [],
    encode(frames) {
      const map = network.build(frames);
      if (map.rank !== 4 || map.dim(1) !== cfg.channels || map.dim(2) !== cfg.grid || map.dim(3) !== cfg.grid) {
        throw new GraphBuildError(`feature map encoder: want [frames, ${cfg.channels}, ${cfg.grid}, ${cfg.grid}] as configured, got ${map}`);
      }
      return gridTokens(map);
    },
  };
}
