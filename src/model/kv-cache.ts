// KV-cached inference for the LLaMA decoder: prefill a batch of prompts, then decode one token per sequence
// per step without recomputing the past.
//
// Design (measured on the 2-core machine, see bench/model.ts): attention is onnxruntime's com.microsoft
// GroupQueryAttention, with the cache of each layer a fixed-capacity buffer [B, Hkv, capacity, hd] that is
// both the op's `past_key` input and its `present_key` output. When the two are the same memory the kernel
// runs in "shared buffer" mode: it writes only the new positions in place and attends over each sequence's
// valid length (seqlens_k[b] + 1), not over the capacity. We get that by binding the host buffer as the
// pre-allocated output of the very tensor fed as input (onnxruntime's CPU provider writes such outputs in place).
// Compared with the alternative built from standard ops (cache fed in, attention over the whole masked
// capacity, new keys written back on the host), decode ran at the same speed at capacity 512 and does not slow
// down with a larger capacity; and it needs no host copies, fuses the rotary embedding, and lets every sequence
// of a batch keep its own length: prompts are right-padded, sequence b writes its next key at its own position
// seqlens_k[b] + 1, and its rotary position is that index — no padding positions to mask or skip.
//
// One graph serves both phases (onnxruntime's kernel tells them apart: a prompt when the query length equals
// total_sequence_length, a decode step when it is 1), so the model is compiled once. Weights are initializers;
// q/k/v and gate/up are concatenated in the graph, which onnxruntime constant-folds into one packed matrix each
// at load time (one MatMul instead of three and two). RMSNorm uses the fused (Skip)SimplifiedLayerNormalization
// kernels, the residual add folded in. Only the last position of each prompt goes through lm_head.
import type { DecoderStepper, PromptInput, StepInput } from '../text/generate.js';
import { Graph, type Tensor, attr } from '../graph/graph.js';
import { hostTensor, type HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { compile, type Session } from '../graph/session.js';
import { finalNormWeight, headDim, layerWeights, lmHeadWeight, type LlamaConfig } from './llama.js';
import { rotaryTables } from './rope.js';

/** Names of the inference graph's inputs and outputs. */
export const INFERENCE_IO = {
  embeds: 'inputs_embeds', // [B, S, D] float32, prompts right-padded (S = 1 when decoding)
  seqlensK: 'seqlens_k', // [B] int32: each sequence's total length (past + new) − 1
  totalLength: 'total_sequence_length', // [1] int32: the longest total length, S for a prompt
  lastIndex: 'last_index', // [B] int64: row b·S + len_b − 1 of [B·S, D] whose logits to compute
  pastKey: (layer: number) => `past_key_values.${layer}.key`, // [B, Hkv, capacity, hd]
  pastValue: (layer: number) => `past_key_values.${layer}.value`,
  presentKey: (layer: number) => `present.${layer}.key`, // the same buffers, written in place
  presentValue: (layer: number) => `present.${layer}.value`,
  logits: 'logits', // [B, V]
} as const;

/** Fused RMSNorm: x / √(mean(x²) + ε) · w. */
function rmsNormFused(x: Tensor, weight: Tensor, eps: number): Tensor {
  return ops.custom('SimplifiedLayerNormalization', [x, weight], { axis: attr.int(-1), epsilon: attr.float(eps) }, [{ dtype: x.dtype, shape: x.shape }])[0];
}

/** Residual add and RMSNorm in one kernel: sum = x + residual, returns [RMSNorm(sum) · w, sum]. */
function addRmsNorm(x: Tensor, residual: Tensor, weight: Tensor, eps: number): [Tensor, Tensor] {
  const spec = { dtype: x.dtype, shape: x.shape };
  const stat = { dtype: 'float32' as const, shape: [...x.shape.slice(0, -1), 1] };
  const [normed, , , sum] = ops.custom('SkipSimplifiedLayerNormalization', [x, residual, weight], { epsilon: attr.float(eps) }, [spec, stat, stat, spec], 'com.microsoft');
  return [normed, sum];
}

/** The prefill/decode graph (see the top of this file and INFERENCE_IO). Needs a head size multiple of 16. */
export function buildInferenceGraph(cfg: LlamaConfig): Graph {
  const hd = headDim(cfg);
  if (hd % 16 !== 0) throw new Error(`KV-cached inference uses onnxruntime's GroupQueryAttention with fused rotary embeddings, which needs a head size that is a multiple of 16; this config has ${hd}`);
  const g = new Graph('llama_infer');
  const D = cfg.hidden_size;
  const H = cfg.num_attention_heads;
  const Hkv = cfg.num_key_value_heads;
  const eps = cfg.rms_norm_eps;
  const io = INFERENCE_IO;
  const x = g.input(io.embeds, 'float32', ['batch', 'seq', D]);
  const seqlensK = g.input(io.seqlensK, 'int32', ['batch']);
  const totalLength = g.input(io.totalLength, 'int32', [1]);
  const lastIndex = g.input(io.lastIndex, 'int64', ['batch']);
  const tables = rotaryTables(hd, cfg.rope_theta, cfg.max_position_embeddings);
  const cosCache = g.constant(tables.cos, 'cos_cache');
  const sinCache = g.constant(tables.sin, 'sin_cache');
  const cacheShape = ['batch', Hkv, 'capacity', hd];

  let h = x;
  let normed = rmsNormFused(x, layerWeights(g, cfg, 0).inputNorm, eps);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const w = layerWeights(g, cfg, i);
    const qkv = ops.linear(normed, ops.concat([w.q, w.k, w.v], 0)); // packed [B, S, (H + 2·Hkv)·hd]
    const past = [g.input(io.pastKey(i), 'float32', cacheShape), g.input(io.pastValue(i), 'float32', cacheShape)];
    const [attention, presentKey, presentValue] = ops.custom(
      'GroupQueryAttention',
      [qkv, null, null, past[0], past[1], seqlensK, totalLength, cosCache, sinCache],
      { num_heads: attr.int(H), kv_num_heads: attr.int(Hkv), do_rotary: attr.int(1) },
      [
        { dtype: 'float32', shape: ['batch', 'seq', D] },
        { dtype: 'float32', shape: cacheShape },
        { dtype: 'float32', shape: cacheShape },
      ],
      'com.microsoft',
    );
    g.output(io.presentKey(i), presentKey);
    g.output(io.presentValue(i), presentValue);
    [normed, h] = addRmsNorm(ops.linear(attention, w.o), h, w.postNorm, eps);

    const [gate, up] = ops.split(ops.linear(normed, ops.concat([w.gate, w.up], 0)), [cfg.intermediate_size, cfg.intermediate_size], -1);
    const mlp = ops.linear(ops.mul(ops.silu(gate), up), w.down);
    const nextNorm = i + 1 < cfg.num_hidden_layers ? layerWeights(g, cfg, i + 1).inputNorm : finalNormWeight(g, cfg);
    [normed, h] = addRmsNorm(mlp, h, nextNorm, eps);
  }
  const last = ops.gather(ops.reshape(normed, [-1, D]), lastIndex, 0); // [B, D]: final-normed last positions
  g.output(io.logits, ops.linear(last, lmHeadWeight(g, cfg)));
  return g;
}

/** A prompt for LlamaRunner: token ids, or ready input embeddings (text with visual tokens spliced in). */
export interface LlamaPrompt extends PromptInput {
  /** [len × hidden_size] row-major; when given, these are the prompt and `ids` are not embedded (they may
   * hold image placeholders). */
  readonly embeds?: Float32Array;
}

export interface LlamaRunnerOptions {
  /** Tokens each sequence may generate after its prompt: the cache holds longest prompt + maxNewTokens
   * positions, at most max_position_embeddings (the default). */
  maxNewTokens?: number;
  /** onnxruntime intra-op threads (default all cores). */
  threads?: number;
}

/** Weights by checkpoint name (float32). */
export type WeightLookup = (name: string) => HostTensor | undefined;

interface LayerCache {
  key: HostTensor;
  value: HostTensor;
}

/**
 * The decoder with a KV cache, as the generation loop drives it (DecoderStepper): `prefill` a batch of
 * prompts, then `step` the sequences still running, one token each. Finished sequences are dropped from the
 * batch by compacting the cache in place.
 */
export class LlamaRunner implements DecoderStepper<LlamaPrompt> {
  private cache: LayerCache[] = [];
  private capacity = 0;
  /** Per batch row: which prefill sequence it holds and how many positions of it are cached. */
  private rows: { sequence: number; length: number }[] = [];

  private constructor(
    readonly config: LlamaConfig,
    private readonly session: Session,
    private readonly embedTable: Float32Array,
    private readonly options: LlamaRunnerOptions,
  ) {}

  /** Compile the inference graph with `weights` as initializers. */
  static async create(config: LlamaConfig, weights: WeightLookup, options: LlamaRunnerOptions = {}): Promise<LlamaRunner> {
    const graph = buildInferenceGraph(config);
    const embed = weights('model.embed_tokens.weight');
    if (!embed || embed.dtype !== 'float32') throw new Error('LlamaRunner: needs model.embed_tokens.weight as float32');
    const session = await compile(graph, { params: 'initializers', weights, threads: options.threads, noCache: true });
    return new LlamaRunner(config, session, embed.data as Float32Array, options);
  }

  async prefill(batch: readonly LlamaPrompt[]): Promise<Float32Array[]> {
    const D = this.config.hidden_size;
    const prompts = batch.map((p, b) => this.promptEmbeds(p, b));
    const lengths = prompts.map((e) => e.length / D);
    const seq = Math.max(...lengths);
    const limit = this.config.max_position_embeddings;
    if (seq > limit) throw new Error(`prefill: a prompt of ${seq} positions exceeds max_position_embeddings ${limit}`);
    this.capacity = Math.min(limit, seq + (this.options.maxNewTokens ?? limit));
    const B = batch.length;
    const cacheShape = [B, this.config.num_key_value_heads, this.capacity, headDim(this.config)];
    this.cache = Array.from({ length: this.config.num_hidden_layers }, () => ({ key: hostTensor('float32', cacheShape), value: hostTensor('float32', cacheShape) }));
    this.rows = lengths.map((length, sequence) => ({ sequence, length }));

    const embeds = new Float32Array(B * seq * D); // right padding: rows past a prompt's end stay 0
    prompts.forEach((e, b) => embeds.set(e, b * seq * D));
    const last = lengths.map((len, b) => b * seq + len - 1);
    return this.run(hostTensor('float32', [B, seq, D], embeds), lengths.map((len) => len - 1), seq, last);
  }

  async step(batch: readonly StepInput[]): Promise<Float32Array[]> {
    if (this.rows.length === 0) throw new Error('step: no sequences (call prefill first)');
    if (batch.length === 0) return [];
    this.keepRows(batch.map((s) => s.sequence));
    const D = this.config.hidden_size;
    const embeds = new Float32Array(batch.length * D);
    batch.forEach((s, b) => embeds.set(this.embedRow(s.token), b * D));
    const lengths = this.rows.map((r) => r.length);
    const total = Math.max(...lengths) + 1;
    if (total > this.capacity) throw new Error(`step: the KV cache holds ${this.capacity} positions and is full (raise maxNewTokens)`);
    const logits = await this.run(hostTensor('float32', [batch.length, 1, D], embeds), lengths, total, lengths.map((_, b) => b));
    for (const r of this.rows) r.length++;
    return logits;
  }

  /** Free the compiled session (the runner cannot be used afterwards). */
  async release(): Promise<void> {
    this.cache = [];
    this.rows = [];
    await this.session.release();
  }

  private async run(embeds: HostTensor, seqlensK: number[], totalLength: number, lastIndex: number[]): Promise<Float32Array[]> {
    const io = INFERENCE_IO;
    const feeds: Record<string, HostTensor> = {
      [io.embeds]: embeds,
      [io.seqlensK]: hostTensor('int32', [seqlensK.length], Int32Array.from(seqlensK)),
      [io.totalLength]: hostTensor('int32', [1], Int32Array.of(totalLength)),
      [io.lastIndex]: hostTensor('int64', [lastIndex.length], BigInt64Array.from(lastIndex, BigInt)),
    };
    const into: Record<string, HostTensor> = {};
    this.cache.forEach((c, i) => {
      feeds[io.pastKey(i)] = into[io.presentKey(i)] = c.key;
      feeds[io.pastValue(i)] = into[io.presentValue(i)] = c.value;
    });
    const out = await this.session.run(feeds, { into });
    const V = this.config.vocab_size;
    const logits = out[io.logits].data as Float32Array;
    return lastIndex.map((_, b) => logits.subarray(b * V, (b + 1) * V));
  }

  /** Keep only the rows of `sequences` (a subsequence of the live ones, in order), compacting the caches. */
  private keepRows(sequences: readonly number[]): void {
    const rowOf = new Map(this.rows.map((r, i) => [r.sequence, i]));
    const from = sequences.map((s) => {
      const row = rowOf.get(s);
      if (row === undefined) throw new Error(`step: sequence ${s} is not running (finished, or not in the prefill batch)`);
      return row;
    });
    if (from.some((row, i) => i > 0 && row <= from[i - 1])) throw new Error(`step: sequences must come in their prefill order, got [${sequences.join(', ')}]`);
    if (from.length === this.rows.length) return;
    // Rows only move towards the front (from[i] ≥ i), so copying in increasing order never overwrites a row
    // still to be copied; the tensors then view the first rows of the same buffers.
    const compact = (t: HostTensor): HostTensor => {
      const data = t.data as Float32Array;
      const rowSize = data.length / t.shape[0];
      from.forEach((src, dst) => {
        if (src !== dst) data.copyWithin(dst * rowSize, src * rowSize, (src + 1) * rowSize);
      });
      return hostTensor('float32', [from.length, ...t.shape.slice(1)], data.subarray(0, from.length * rowSize));
    };
    this.cache = this.cache.map((c) => ({ key: compact(c.key), value: compact(c.value) }));
    this.rows = from.map((row) => this.rows[row]);
  }

  private promptEmbeds(prompt: LlamaPrompt, index: number): Float32Array {
    const D = this.config.hidden_size;
    if (prompt.embeds) {
      if (prompt.embeds.length === 0 || prompt.embeds.length % D !== 0) throw new Error(`prefill: prompt ${index} has ${prompt.embeds.length} embedding values, not a positive multiple of hidden_size ${D}`);
      return prompt.embeds;
    }
    if (prompt.ids.length === 0) throw new Error(`prefill: prompt ${index} is empty`);
    const out = new Float32Array(prompt.ids.length * D);
    prompt.ids.forEach((id, t) => out.set(this.embedRow(id), t * D));
    return out;
  }

  private embedRow(id: number): Float32Array {
    const D = this.config.hidden_size;
    if (!Number.isInteger(id) || id < 0 || id >= this.config.vocab_size) throw new Error(`token id ${id} is outside the vocabulary (vocab_size ${this.config.vocab_size})`);
    return this.embedTable.subarray(id * D, (id + 1) * D);
  }
}
