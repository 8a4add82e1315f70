// The configuration of a Face-LLaVA model (SPEC §2, §6): visual encoder, projector, face regions (FRLP),
// cross-attention, LLaMA decoder and media handling. Field names follow Hugging Face where one exists
// (CLIPVisionConfig, LlamaConfig, LLaVA's `mm_*` and the released code's `cross_attn_type`).
import { z } from 'zod';
import { LlamaConfigSchema, VICUNA_7B_V1_5 } from './llama.js';
import { IBUG68_REGIONS, NUM_LANDMARKS, type PatchGrid } from './regions.js';

const count = z.number().int().positive();

/**
 * A CLIP-style vision transformer (CLIPVisionConfig fields). LLaVA feeds the projector hidden_states at
 * `mm_vision_select_layer`, with the CLS token dropped (`patch`) or kept (`cls_patch`).
 */
export const ClipVitConfigSchema = z.object({
  type: z.literal('clip_vit'),
  image_size: count,
  patch_size: count,
  num_channels: count.default(3),
  hidden_size: count,
  num_hidden_layers: count,
  num_attention_heads: count,
  intermediate_size: count,
  hidden_act: z.enum(['gelu', 'quick_gelu']).default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  mm_vision_select_layer: z.number().int().default(-2),
  mm_vision_select_feature: z.enum(['patch', 'cls_patch']).default('patch'),
});

/**
 * A frozen convolutional network whose feature map [C, G, G] becomes the patch tokens: token j is cell j of the
 * grid in row-major order, C its width. The network itself is supplied when the model is built (see
 * vision/encoder.ts); the config fixes what the rest of the model sees of it.
 */
export const FeatureMapConfigSchema = z.object({
  type: z.literal('feature_map'),
  channels: count,
  grid: count,
});

export const VisionConfigSchema = z.discriminatedUnion('type', [ClipVitConfigSchema, FeatureMapConfigSchema]);

const FaceRegionSchema = z.object({ name: z.string().min(1), start: z.number().int().min(0), end: z.number().int() });

/** Cross-attention from the visual tokens to the face-region tokens. */
export const CrossAttentionConfigSchema = z.discriminatedUnion('cross_attn_type', [
  /** The paper's FRGCA; `rpp_mask` switches the Region-Patch Proximity mask. */
  z.object({ cross_attn_type: z.literal('frgca'), num_heads: count, rpp_mask: z.boolean().default(true) }),
  /** The released code's `LandmarkGuidedCrossAttention`. */
  z.object({
    cross_attn_type: z.literal('simple'),
    num_heads: count.default(8),
    branch_scale: z.number().default(0.1),
    layer_norm_eps: z.number().positive().default(1e-5),
  }),
  /** No landmark branch: the projected visual tokens go to the LLM as they are. */
  z.object({ cross_attn_type: z.literal('none') }),
]);

export const FaceLlavaConfigSchema = z
  .object({
    vision: VisionConfigSchema,
    mm_projector_type: z.enum(['linear', 'mlp2x_gelu']).default('mlp2x_gelu'),
    /**
     * Each channel of the encoder's tokens standardized, (z − μ) / σ with the training crops' statistics
     * (`model.token_norm.mean` / `.std`, frozen), before the projector: this project's addition, for encoders that
     * concatenate frozen networks whose channels differ in scale by 30× (model/token-norm.ts).
     */
    standardize_tokens: z.literal(true).optional(),
    /** FRLP's regions of the 68 landmarks (end-exclusive), named as in the checkpoint. */
    face_regions: z.array(FaceRegionSchema).min(1).default(IBUG68_REGIONS.map((r) => ({ ...r }))),
    cross_attn: CrossAttentionConfigSchema,
    llm: LlamaConfigSchema,
    /** Frames sampled uniformly from a video (each an `<image>` placeholder in the prompt). */
    frames_per_video: count.default(8),
    /** The id that marks a placeholder in token ids. */
    image_token_index: z.number().int().default(-200),
  })
  .superRefine((c, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    c.face_regions.forEach((r, i) => {
      if (r.end <= r.start || r.end > NUM_LANDMARKS) issue(['face_regions', i], `region ${r.name} [${r.start}, ${r.end}) is not inside 0 … ${NUM_LANDMARKS}`);
    });
    const v = c.vision;
    if (v.type === 'clip_vit') {
      if (v.image_size % v.patch_size !== 0) issue(['vision', 'patch_size'], `image_size ${v.image_size} is not a multiple of patch_size ${v.patch_size}`);
      if (v.hidden_size % v.num_attention_heads !== 0) issue(['vision', 'num_attention_heads'], `hidden_size ${v.hidden_size} is not divisible by num_attention_heads ${v.num_attention_heads}`);
      // hidden_states has num_hidden_layers + 1 entries, indexed Python-style.
      const s = v.mm_vision_select_layer;
      if (s < -(v.num_hidden_layers + 1) || s > v.num_hidden_layers) issue(['vision', 'mm_vision_select_layer'], `${v.mm_vision_select_layer} is out of range for ${v.num_hidden_layers} layers`);
    }
    const x = c.cross_attn;
    if (x.cross_attn_type !== 'none' && c.llm.hidden_size % x.num_heads !== 0) {
      issue(['cross_attn', 'num_heads'], `llm hidden_size ${c.llm.hidden_size} is not divisible by ${x.num_heads} heads`);
    }
  });

export type ClipVitConfig = z.output<typeof ClipVitConfigSchema>;
export type FeatureMapConfig = z.output<typeof FeatureMapConfigSchema>;
export type VisionConfig = z.output<typeof VisionConfigSchema>;
export type CrossAttentionConfig = z.output<typeof CrossAttentionConfigSchema>;
export type FaceLlavaConfig = z.output<typeof FaceLlavaConfigSchema>;
export type FaceLlavaConfigInput = z.input<typeof FaceLlavaConfigSchema>;

/** Validate a config; throws one error listing every problem by field. */
export function parseFaceLlavaConfig(raw: unknown): FaceLlavaConfig {
  const r = FaceLlavaConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'config'}: ${i.message}`);
  throw new Error(`invalid Face-LLaVA config: ${problems.join('; ')}`);
}

/** Width of the encoder's tokens (LLaVA's `mm_hidden_size`). */
export function visionWidth(v: VisionConfig): number {
  return v.type === 'clip_vit' ? v.hidden_size : v.channels;
}

/** Where the tokens the projector receives lie on the image. */
export function visionGrid(v: VisionConfig): PatchGrid {
  if (v.type === 'feature_map') return { size: v.grid, cls: false };
  return { size: v.image_size / v.patch_size, cls: v.mm_vision_select_feature === 'cls_patch' };
}

/** The tiny model of the golden `pipeline` case (../shared/golden/pipeline.json). */
export const GOLDEN_PIPELINE_CONFIG: FaceLlavaConfig = parseFaceLlavaConfig({
  vision: {
    type: 'clip_vit',
    image_size: 32,
    patch_size: 8,
    hidden_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    intermediate_size: 96,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    mm_vision_select_layer: -2,
    mm_vision_select_feature: 'patch',
  },
  mm_projector_type: 'mlp2x_gelu',
  cross_attn: { cross_attn_type: 'frgca', num_heads: 4, rpp_mask: true },
  llm: {
    vocab_size: 96,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 160,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
  },
});

/**
 * The released Face-LLaVA 7B (SPEC §6): the LanguageBind image tower (CLIP ViT-L/14 at 224 px, exact GELU as
 * in its OpenCLIP training, layer −2, CLS dropped: 16×16 = 256 tokens per frame), `mlp2x_gelu` into Vicuna-7B
 * v1.5's 4096 wide space, and the released `simple` cross-attention.
 */
export const FACE_LLAVA_7B_CONFIG: FaceLlavaConfig = parseFaceLlavaConfig({
  vision: {
    type: 'clip_vit',
    image_size: 224,
    patch_size: 14,
    hidden_size: 1024,
    num_hidden_layers: 24,
    num_attention_heads: 16,
    intermediate_size: 4096,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    mm_vision_select_layer: -2,
    mm_vision_select_feature: 'patch',
  },
  mm_projector_type: 'mlp2x_gelu',
  cross_attn: { cross_attn_type: 'simple', num_heads: 8, branch_scale: 0.1, layer_norm_eps: 1e-5 },
  llm: VICUNA_7B_V1_5,
  frames_per_video: 8,
});

/**
 * The default model, sized to train and answer on a couple of CPU cores. Encoder: human's `faceres` frozen, its
 * `conv_pw_13` map as 7×7 = 49 tokens of 1024 channels per frame (the encoder study's pick, docs/encoder-probes.md;
 * the model directory names it with vision/npm-encoder.ts's FACERES_ENCODER and npmPreprocess(224)), and the
 * paper's mlp2x_gelu projector. No landmark branch (cross_attn `none`): trained from scratch at this scale, the
 * model without FRLP/FRGCA reads faces better than with them (docs/ablation.md; the paper's variant is this config
 * with `{ cross_attn_type: 'frgca', num_heads: 6, rpp_mask: true }`, as scripts/ablation.ts builds it). Decoder: llama2.c's
 * stories15M shape (width 288, 6 layers of 6 heads of 48, SwiGLU 768, tied embeddings) on the 32000-piece LLaMA
 * vocabulary — 15.2 M parameters, 9.2 M of them the embedding. Why that size: a training token costs about
 * 6 × parameters FLOPs, so on 2 shared cores the ~23 M shape (width 384) trains about 1.5× slower for the same data,
 * and this one decodes at about 160 tokens/s under load; the answers (a label and a few sentences of reasoning)
 * need fluency, not knowledge. 8 frames per video are 392 visual tokens, well inside 1024 positions.
 */
export const DEFAULT_MODEL_CONFIG: FaceLlavaConfig = parseFaceLlavaConfig({
  vision: { type: 'feature_map', channels: 1024, grid: 7 },
  mm_projector_type: 'mlp2x_gelu',
  cross_attn: { cross_attn_type: 'none' },
  llm: {
    vocab_size: 32000,
    hidden_size: 288,
    num_hidden_layers: 6,
    num_attention_heads: 6,
    intermediate_size: 768,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 1024,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
  },
  frames_per_video: 8,
});
