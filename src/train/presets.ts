// Model configurations sized for training here, on a few CPU cores. The paper's model (Vicuna-7B behind a CLIP
// ViT-L/14, SPEC §2) is what the released checkpoints load into; these presets keep its architecture — a frozen
// patch encoder, the mlp2x_gelu projector, FRLP, FRGCA with the Region-Patch Proximity mask, a LLaMA decoder on the
// LLaMA vocabulary — at a size whose two-stage training fits a workstation.
import { type FaceLlavaConfig, parseFaceLlavaConfig } from '../model/config.js';

/**
 * The compact Face-LLaVA: a frozen convolutional encoder's 7×7 feature map of 256 channels (49 visual tokens
 * per frame), and a 6-layer LLaMA decoder of width 384 (6 heads of 64, SwiGLU 1024) on the 32000-piece LLaMA
 * vocabulary with tied input/output embeddings — about 23 M decoder parameters, 12.3 M of them the embedding.
 */
export const FACE_LLAVA_SMALL_CONFIG: FaceLlavaConfig = parseFaceLlavaConfig({
  vision: { type: 'feature_map', channels: 256, grid: 7 },
  mm_projector_type: 'mlp2x_gelu',
  cross_attn: { cross_attn_type: 'frgca', num_heads: 6, rpp_mask: true },
  llm: {
    vocab_size: 32000,
    hidden_size: 384,
    num_hidden_layers: 6,
    num_attention_heads: 6,
    intermediate_size: 1024,
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
