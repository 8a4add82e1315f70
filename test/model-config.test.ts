import { describe, expect, it } from 'vitest';
import {
  FACE_LLAVA_7B_CONFIG,
  GOLDEN_PIPELINE_CONFIG,
  parseFaceLlavaConfig,
  visionGrid,
  visionWidth,
} from '../src/model/config.js';
import { visualTokensPerFrame } from '../src/model/face-llava.js';
import { IBUG68_REGIONS } from '../src/model/regions.js';
import { loadGolden } from './helpers/golden.js';

describe('Face-LLaVA config', () => {
  it('describes the golden pipeline model as its json does', () => {
    const json = loadGolden('pipeline').config as Record<string, Record<string, unknown>> & { frgca: { num_heads: number; grid: number; rpp_mask: boolean } };
    const cfg = GOLDEN_PIPELINE_CONFIG;
    expect(cfg.vision).toMatchObject({ type: 'clip_vit', ...json.vision, mm_vision_select_layer: json.vision_select_layer, mm_vision_select_feature: 'patch' });
    expect(json.drop_cls).toBe(true);
    expect(cfg.llm).toMatchObject(json.llm);
    expect(cfg.mm_projector_type).toBe(json.projector);
    expect(cfg.cross_attn).toEqual({ cross_attn_type: 'frgca', num_heads: json.frgca.num_heads, rpp_mask: json.frgca.rpp_mask });
    expect(visionGrid(cfg.vision)).toEqual({ size: json.frgca.grid, cls: false });
    expect(cfg.face_regions).toEqual(IBUG68_REGIONS);
  });

  it('describes the released 7B: ViT-L/14 at 224 px, 256 tokens a frame, 1024 → 4096, Vicuna-7B', () => {
    const cfg = FACE_LLAVA_7B_CONFIG;
    expect(visualTokensPerFrame(cfg)).toBe(256);
    expect(visionWidth(cfg.vision)).toBe(1024);
    expect(cfg.llm).toMatchObject({ hidden_size: 4096, num_hidden_layers: 32, vocab_size: 32000 });
    expect(cfg.cross_attn).toEqual({ cross_attn_type: 'simple', num_heads: 8, branch_scale: 0.1, layer_norm_eps: 1e-5 });
    expect(cfg.frames_per_video).toBe(8);
    expect(cfg.image_token_index).toBe(-200);
  });

  it('keeps the CLS token when asked, and takes a feature-map encoder with its grid', () => {
    const cls = parseFaceLlavaConfig({ ...GOLDEN_PIPELINE_CONFIG, vision: { ...GOLDEN_PIPELINE_CONFIG.vision, mm_vision_select_feature: 'cls_patch' } });
    expect(visualTokensPerFrame(cls)).toBe(17);
    const conv = parseFaceLlavaConfig({ ...GOLDEN_PIPELINE_CONFIG, vision: { type: 'feature_map', channels: 256, grid: 7 } });
    expect(visionWidth(conv.vision)).toBe(256);
    expect(visualTokensPerFrame(conv)).toBe(49);
  });

  it('names every problem by field', () => {
    const bad = {
      ...GOLDEN_PIPELINE_CONFIG,
      vision: { ...GOLDEN_PIPELINE_CONFIG.vision, patch_size: 7, mm_vision_select_layer: -5 },
      cross_attn: { cross_attn_type: 'frgca', num_heads: 5 },
      face_regions: [{ name: 'chin', start: 60, end: 70 }],
    };
    expect(() => parseFaceLlavaConfig(bad)).toThrow(
      /face_regions\.0: region chin \[60, 70\).*vision\.patch_size: image_size 32 is not a multiple of patch_size 7.*vision\.mm_vision_select_layer: -5 is out of range.*cross_attn\.num_heads/,
    );
    expect(() => parseFaceLlavaConfig({ ...GOLDEN_PIPELINE_CONFIG, cross_attn: { cross_attn_type: 'masked' } })).toThrow(/cross_attn\.cross_attn_type/);
  });
});
