// The LLaMA decoder (Vicuna-7B in Face-LLaVA, SPEC §2, §6), as graph builders over the engine's op library.
// One code path for every size: a ~15M-parameter model trained here on two cores and Vicuna-7B differ only in
// their LlamaConfig. Weights are declared with the released checkpoint names (`model.layers.N.self_attn.q_proj
// .weight`, …), PyTorch's [out, in] layout, so a Hugging Face checkpoint binds without renaming.
//
// Per layer (pre-norm residual blocks, as Hugging Face `LlamaDecoderLayer`):
//   h   = x + o_proj(attention(rope(q_proj(n₁)), rope(k_proj(n₁)), v_proj(n₁))),   n₁ = RMSNorm(x)
//   out = h + down_proj(silu(gate_proj(n₂)) · up_proj(n₂)),                         n₂ = RMSNorm(h)
//   RMSNorm(x) = x / √(mean(x²) + ε) · w
// then logits = lm_head(RMSNorm(h_L)). Attention is causal and grouped-query: each of the num_key_value_heads
// key/value heads serves num_attention_heads / num_key_value_heads consecutive query heads (HF `repeat_kv`).
//
// `decoderForward` uses differentiable primitives only (the same graph is trained through autodiff.ts); the
// KV-cached inference graphs (kv-cache.ts) reuse the weight declarations and blocks below.
import { z } from 'zod';
import type { DType } from '../graph/dtype.js';
import { GraphBuildError, type Graph, type Tensor } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { applyRotary, rotaryCosSin, rotaryTables } from './rope.js';

// ---------------------------------------------------------------------------------------------------------
// configuration

const count = z.number().int().positive();
const tokenId = z.number().int().nonnegative();

/**
 * A Hugging Face `LlamaConfig` (config.json field names). Defaults are those of `transformers.LlamaConfig`.
 * Fields that would change the architecture into something this decoder does not implement (another
 * activation, rope scaling, biased projections) are accepted only with their LLaMA values, so loading such a
 * config fails loudly instead of computing something else. Unknown fields are ignored.
 */
export const LlamaConfigSchema = z
  .object({
    vocab_size: count,
    hidden_size: count,
    num_hidden_layers: count,
    num_attention_heads: count,
    /** Defaults to num_attention_heads (plain multi-head attention), as in Hugging Face. */
    num_key_value_heads: count.optional(),
    intermediate_size: count,
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    max_position_embeddings: count.default(2048),
    tie_word_embeddings: z.boolean().default(false),
    bos_token_id: tokenId.default(1),
    eos_token_id: tokenId.default(2),
    pad_token_id: tokenId.nullable().default(null),
    hidden_act: z.literal('silu').default('silu'),
    head_dim: count.optional(),
    rope_scaling: z.null().optional(),
    attention_bias: z.literal(false).optional(),
    mlp_bias: z.literal(false).optional(),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const kv = c.num_key_value_heads ?? c.num_attention_heads;
    if (c.hidden_size % c.num_attention_heads !== 0) {
      issue('num_attention_heads', `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
      return;
    }
    const headDim = c.hidden_size / c.num_attention_heads;
    if (headDim % 2 !== 0) issue('num_attention_heads', `head size hidden_size / num_attention_heads = ${headDim} must be even for rotary embeddings`);
    if (c.head_dim !== undefined && c.head_dim !== headDim) issue('head_dim', `head_dim ${c.head_dim} differs from hidden_size / num_attention_heads = ${headDim}`);
    if (c.num_attention_heads % kv !== 0) issue('num_key_value_heads', `num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${kv}`);
    for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
      const id = c[key];
      if (id !== null && id >= c.vocab_size) issue(key, `${key} ${id} is outside the vocabulary (vocab_size ${c.vocab_size})`);
    }
  })
  .transform((c) => ({ ...c, num_key_value_heads: c.num_key_value_heads ?? c.num_attention_heads }));

export type LlamaConfig = z.output<typeof LlamaConfigSchema>;
export type LlamaConfigInput = z.input<typeof LlamaConfigSchema>;

/** Validate a config (e.g. a parsed config.json); throws one error listing every problem by field. */
export function parseLlamaConfig(raw: unknown): LlamaConfig {
  const r = LlamaConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'config'}: ${i.message}`);
  throw new Error(`invalid LLaMA config: ${problems.join('; ')}`);
}

/** Vicuna-7B v1.5, the LLM of Face-LLaVA (SPEC §6). */
export const VICUNA_7B_V1_5: LlamaConfig = parseLlamaConfig({
  vocab_size: 32000,
  hidden_size: 4096,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  intermediate_size: 11008,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 4096,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 0,
});

export function headDim(cfg: LlamaConfig): number {
  return cfg.hidden_size / cfg.num_attention_heads;
}

/** Every weight of the model under its checkpoint name, in checkpoint order, with its shape. */
export function llamaParamShapes(cfg: LlamaConfig): Map<string, number[]> {
  const d = cfg.hidden_size;
  const kvWidth = cfg.num_key_value_heads * headDim(cfg);
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [cfg.vocab_size, d]]]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.self_attn.q_proj.weight`, [d, d]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kvWidth, d]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kvWidth, d]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [d, d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [cfg.intermediate_size, d]);
    shapes.set(`${p}.mlp.up_proj.weight`, [cfg.intermediate_size, d]);
    shapes.set(`${p}.mlp.down_proj.weight`, [d, cfg.intermediate_size]);
    shapes.set(`${p}.input_layernorm.weight`, [d]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [d]);
  }
  shapes.set('model.norm.weight', [d]);
  if (!cfg.tie_word_embeddings) shapes.set('lm_head.weight', [cfg.vocab_size, d]);
  return shapes;
}

/** Number of parameters (a tied lm_head counted once). */
export function countParams(cfg: LlamaConfig): number {
  let n = 0;
  for (const shape of llamaParamShapes(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// weights and blocks shared by the training and the inference graphs

export interface LayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** Declare (or look up) the weights of layer `i` under their checkpoint names. */
export function layerWeights(g: Graph, cfg: LlamaConfig, i: number, dtype: DType = 'float32'): LayerWeights {
  const shapes = llamaParamShapes(cfg);
  const p = `model.layers.${i}`;
  const w = (suffix: string) => g.param(`${p}.${suffix}`, dtype, shapes.get(`${p}.${suffix}`)!);
  return {
    inputNorm: w('input_layernorm.weight'),
    q: w('self_attn.q_proj.weight'),
    k: w('self_attn.k_proj.weight'),
    v: w('self_attn.v_proj.weight'),
    o: w('self_attn.o_proj.weight'),
    postNorm: w('post_attention_layernorm.weight'),
    gate: w('mlp.gate_proj.weight'),
    up: w('mlp.up_proj.weight'),
    down: w('mlp.down_proj.weight'),
  };
}

export function embedWeight(g: Graph, cfg: LlamaConfig, dtype: DType = 'float32'): Tensor {
  return g.param('model.embed_tokens.weight', dtype, [cfg.vocab_size, cfg.hidden_size]);
}

export function finalNormWeight(g: Graph, cfg: LlamaConfig, dtype: DType = 'float32'): Tensor {
  return g.param('model.norm.weight', dtype, [cfg.hidden_size]);
}

/** The output projection [V, D]: `lm_head.weight`, or the embedding matrix when tied. */
export function lmHeadWeight(g: Graph, cfg: LlamaConfig, dtype: DType = 'float32'): Tensor {
  return cfg.tie_word_embeddings ? embedWeight(g, cfg, dtype) : g.param('lm_head.weight', dtype, [cfg.vocab_size, cfg.hidden_size]);
}

/** SwiGLU feed-forward: down(silu(gate(x)) · up(x)). */
export function swiGlu(x: Tensor, w: LayerWeights): Tensor {
  return ops.linear(ops.mul(ops.silu(ops.linear(x, w.gate)), ops.linear(x, w.up)), w.down);
}

/** Token embeddings [B, S] int64 → [B, S, D]. */
export function embedTokens(g: Graph, cfg: LlamaConfig, ids: Tensor, dtype: DType = 'float32'): Tensor {
  return ops.gather(embedWeight(g, cfg, dtype), ids, 0);
}

// ---------------------------------------------------------------------------------------------------------
// the training / reference forward pass

/** Added to the attention logits of masked positions: exp underflows to exactly 0, and a fully masked row
 * (a padding query) stays finite (uniform) instead of becoming NaN as with −∞. */
export const MASK_VALUE = -1e9;

export interface ForwardOptions {
  /** [B, S], 1 for real tokens and 0 for padding (int64 or bool), as Hugging Face's attention_mask. */
  attentionMask?: Tensor;
  /** [B, S] int64 rotary positions; default 0 … S−1 for every row. Left-padded rows need their own (the
   * position of the first real token is 0), e.g. cumsum(attention_mask) − 1 clamped at 0. */
  positionIds?: Tensor;
}

/** Logits [B, S, V] of the decoder over `inputsEmbeds` [B, S, D] (float32, or float64 for gradient checks). */
export function decoderForward(g: Graph, cfg: LlamaConfig, inputsEmbeds: Tensor, options: ForwardOptions = {}): Tensor {
  const dtype = inputsEmbeds.dtype;
  if (inputsEmbeds.rank !== 3 || (typeof inputsEmbeds.dim(2) === 'number' && inputsEmbeds.dim(2) !== cfg.hidden_size)) {
    throw new GraphBuildError(`decoderForward: inputs_embeds must be [B, S, ${cfg.hidden_size}], got ${inputsEmbeds}`);
  }
  const positions = options.positionIds ?? ops.unsqueeze(sequenceIndex(inputsEmbeds), [0]);
  const rope = rotaryCosSin(g, rotaryTables(headDim(cfg), cfg.rope_theta, cfg.max_position_embeddings, dtype), positions);
  const bias = attentionBias(inputsEmbeds, options.attentionMask);

  let h = inputsEmbeds;
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const w = layerWeights(g, cfg, i, dtype);
    const x = ops.rmsNorm(h, w.inputNorm, cfg.rms_norm_eps);
    const { q, k, v } = projectQkv(cfg, ops.linear(x, w.q), ops.linear(x, w.k), ops.linear(x, w.v), rope);
    const context = groupedAttention(cfg, q, [{ keys: groupedLayout(k), values: groupedLayout(v), bias }]);
    h = ops.add(h, ops.linear(context, w.o));
    h = ops.add(h, swiGlu(ops.rmsNorm(h, w.postNorm, cfg.rms_norm_eps), w));
  }
  h = ops.rmsNorm(h, finalNormWeight(g, cfg, dtype), cfg.rms_norm_eps);
  return ops.linear(h, lmHeadWeight(g, cfg, dtype));
}

/** 0, 1, …, S−1 for the sequence axis of x [B, S, …] (S known at run time). */
function sequenceIndex(x: Tensor): Tensor {
  const g = x.graph;
  const seqLen = ops.gather(ops.shapeOf(x), ops.scalar(g, 1, 'int64'));
  return ops.range(g, 0, seqLen);
}

/**
 * Additive attention bias [B|1, 1, 1, S, S] among the S positions of x [B, S, D], in the grouped layout of
 * groupedAttention: 0 where query i may attend key j (j ≤ i, and key j is not padding when `attentionMask`
 * [B, S] is given), MASK_VALUE elsewhere.
 */
export function attentionBias(x: Tensor, attentionMask?: Tensor): Tensor {
  const g = x.graph;
  const idx = sequenceIndex(x);
  let allowed = ops.lessOrEqual(ops.unsqueeze(idx, [0]), ops.unsqueeze(idx, [1])); // [S(query), S(key)]: j ≤ i
  if (attentionMask) {
    if (attentionMask.rank !== 2) throw new GraphBuildError(`attention_mask must be [B, S], got ${attentionMask}`);
    allowed = ops.and(allowed, ops.unsqueeze(ops.cast(attentionMask, 'bool'), [1])); // [B, S, S]
  }
  const bias = ops.where(allowed, ops.scalar(g, 0, x.dtype), ops.scalar(g, MASK_VALUE, x.dtype));
  return allowed.rank === 2 ? ops.unsqueeze(bias, [0, 1, 2]) : ops.unsqueeze(bias, [1, 2]);
}

/** Projected q [B, S, H·hd], k and v [B, S, Hkv·hd] split into heads, rotary embedding applied to q and k:
 * q [B, S, H, hd], k and v [B, S, Hkv, hd]. `rope` as from rotaryCosSin. */
export function projectQkv(cfg: LlamaConfig, q: Tensor, k: Tensor, v: Tensor, rope: { cos: Tensor; sin: Tensor }): { q: Tensor; k: Tensor; v: Tensor } {
  const hd = headDim(cfg);
  const heads = (x: Tensor, n: number) => ops.reshape(x, [0, 0, n, hd]);
  return {
    q: applyRotary(heads(q, cfg.num_attention_heads), rope.cos, rope.sin),
    k: applyRotary(heads(k, cfg.num_key_value_heads), rope.cos, rope.sin),
    v: heads(v, cfg.num_key_value_heads),
  };
}

/** Keys or values [B, S, Hkv, hd] → the grouped layout [B, Hkv, 1, S, hd] of groupedAttention. */
export function groupedLayout(x: Tensor): Tensor {
  return ops.unsqueeze(ops.transpose(x, [0, 2, 1, 3]), [2]);
}

/** Keys and values of L positions in the grouped layout [B, Hkv, 1, L, hd], with the additive bias of their
 * logits (broadcasting to [B, Hkv, rep, S, L]). */
export interface KeyValueBlock {
  keys: Tensor;
  values: Tensor;
  bias: Tensor;
}

/**
 * softmax(q·kᵀ/√hd + bias)·v for queries q [B, S, H, hd] over the positions of one or more key/value blocks
 * (the softmax runs over all of them jointly, as over their concatenation). Returns [B, S, H·hd].
 * Query heads are grouped as [B, Hkv, rep, S, hd] against keys/values [B, Hkv, 1, L, hd], so one MatMul
 * broadcasts each key/value head over its rep = H / Hkv query heads — HF's repeat_kv without materializing
 * the copies (query head h uses key/value head ⌊h / rep⌋). The key transpose feeds the MatMul directly, which
 * onnxruntime fuses into one transposed-operand MatMul (no copy of the keys).
 */
export function groupedAttention(cfg: LlamaConfig, q: Tensor, blocks: readonly KeyValueBlock[]): Tensor {
  const hd = headDim(cfg);
  const kvHeads = cfg.num_key_value_heads;
  const rep = cfg.num_attention_heads / kvHeads;
  const qg = ops.transpose(ops.reshape(ops.mul(q, 1 / Math.sqrt(hd)), [0, 0, kvHeads, rep, hd]), [0, 2, 3, 1, 4]); // [B, Hkv, rep, S, hd]
  const scores = blocks.map((b) => ops.add(ops.matmul(qg, ops.transpose(b.keys, [0, 1, 2, 4, 3])), b.bias)); // [B, Hkv, rep, S, L]
  const probs = splitLike(ops.softmax(scores.length === 1 ? scores[0] : ops.concat(scores, -1), -1), scores);
  const context = blocks.map((b, i) => ops.matmul(probs[i], b.values)).reduce((sum, c) => ops.add(sum, c)); // [B, Hkv, rep, S, hd]
  return ops.reshape(ops.transpose(context, [0, 3, 1, 2, 4]), [0, 0, cfg.hidden_size]);
}

/** Cut x along its last axis into pieces as long as the last axes of `parts` (lengths known at run time). */
function splitLike(x: Tensor, parts: readonly Tensor[]): Tensor[] {
  if (parts.length === 1) return [x];
  const g = x.graph;
  const lengths = parts.map((p) => ops.slice(ops.shapeOf(p), [0], [-1], [Infinity])); // [1] each
  let start = ops.int64s(g, [0]);
  return parts.map((p, i) => {
    const end = i + 1 < parts.length ? ops.add(start, lengths[i]) : ops.int64s(g, [Number.MAX_SAFE_INTEGER]);
    const piece = ops.sliceDynamic(x, start, end, [-1], p.shape);
    start = end;
    return piece;
  });
}

// ---------------------------------------------------------------------------------------------------------
// training loss

/** Label of positions that do not count in the loss (system prompt, user turn, visual tokens, padding). */
export const IGNORE_INDEX = -100;

/**
 * Mean next-token cross-entropy over the answer tokens, as Hugging Face's causal-LM loss: the logits at
 * position t predict labels[t + 1]; positions labelled IGNORE_INDEX do not count. logits [B, S, V],
 * labels [B, S] int64 → scalar. (With no counted position the mean is 0/0 = NaN, as in PyTorch.)
 */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const vocab = logits.dim(-1);
  if (logits.rank !== 3 || typeof vocab !== 'number') throw new GraphBuildError(`causalLmLoss: logits must be [B, S, V] with V fixed, got ${logits}`);
  if (labels.rank !== 2) throw new GraphBuildError(`causalLmLoss: labels must be [B, S], got ${labels}`);
  const predictions = ops.reshape(ops.slice(logits, [1], [0], [-1]), [-1, vocab]); // positions 0 … S−2
  const targets = ops.reshape(ops.slice(labels, [1], [1], [Infinity]), [-1]); // labels 1 … S−1
  return ops.crossEntropy(predictions, targets, IGNORE_INDEX);
}
