// KV-cached inference for the LLaMA decoder: prefill a batch of prompts, then decode one token per sequence
// per step without recomputing the past.
//
// Design. The cache of each layer lives on the host as keys and values [B, Hkv, C, hd] (fed as [B, Hkv, 1, C, hd],
// the layout attention reads, so no transposes) and is passed to onnxruntime as plain inputs, which it reads
// in place without a copy.
// One graph extends every sequence of the batch by S new positions (S = the padded prompt length for prefill,
// 1 for a decode step): attention runs over two key/value blocks, the C cached positions (masked per sequence
// beyond its length) and the S new ones (causal), with one joint softmax; the graph returns only the new
// positions' keys and values, which the host writes into the cache — Hkv·hd floats per sequence per decode
// step. Prompts are right-padded: sequence b's next token goes to position len_b, so every sequence keeps its
// own length and rotary positions, and lm_head runs only on each prompt's last real position. C grows in
// chunks of CACHE_CHUNK positions (a copy of the cache each time, rare), so a step reads at most CACHE_CHUNK
// positions more than the longest sequence holds, whatever the context limit.
//
// Alternatives measured (bench/model.ts configs, 2 cores):
// - onnxruntime's GroupQueryAttention with one buffer bound as both past and present KV: onnxruntime-node 1.30
//   writes such pre-allocated outputs in place but then also copies every output into a fresh JavaScript
//   buffer, so each step copies the whole cache. A 15M-model step took 1.6 ms at capacity 512, 3.7 ms at 2048
//   and 5.3 ms at 4096.
// - A positions-major cache [P, B, Hkv, hd], fed as a zero-copy prefix of the valid length: the transposes
//   and concatenation it needs each step cost ~15% of a 15M-model step at 128 positions, growing with length.
//
// An output vocabulary (`outputIds`) makes lm_head compute only those rows: a model trained from scratch on
// FaceInstruct writes ~480 distinct tokens, and the full 32000-row head is 37 MB of float32 read every step, more
// than the rest of the decoder. The logits come back vocabulary-long, −∞ outside the list (probability 0).
//
// One graph serves both phases, so weights are held once (as initializers). The layers are decoderForward's
// (the same weights, projections, rotary embedding and grouped attention) with onnxruntime's fused
// (Skip)SimplifiedLayerNormalization for RMSNorm and the residual add, which doubled prefill speed.
import type { DecoderStepper, PromptInput, StepInput } from '../text/generate.js';
import { Graph, type Tensor, attr } from '../graph/graph.js';
import { hostTensor, type HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { compile, type Session } from '../graph/session.js';
import { attentionBias, finalNormWeight, groupedAttention, groupedLayout, headDim, layerWeights, lmHeadWeight, MASK_VALUE, projectQkv, swiGlu, type LlamaConfig } from './llama.js';
import { rotaryCosSin, rotaryTables } from './rope.js';

/** The weight a trimmed lm_head reads: the rows of the (tied) head for the output vocabulary, [K, D]. */
export const OUTPUT_HEAD_WEIGHT = 'lm_head.output_rows';

/** The cache grows by this many positions at a time. */
export const CACHE_CHUNK = 256;
/** Continuations scored in one run by LlamaRunner.extend (bounds the logits it holds: 32000 floats a token). */
export const EXTEND_BATCH = 64;

/** Names of the inference graph's inputs and outputs (B sequences, S new positions, C cached positions). */
export const INFERENCE_IO = {
  embeds: 'inputs_embeds', // [B, S, D] float32: the new positions, right-padded
  attentionMask: 'attention_mask', // [B, S] int64: 1 for a real new position, 0 for padding
  positionIds: 'position_ids', // [B, S] int64: rotary positions of the new positions
  pastBias: 'past_bias', // [B, 1, 1, 1, C] float32: 0 where cached position c of sequence b is valid, else MASK_VALUE
  lastIndex: 'last_index', // [R] int64: rows of [B·S, D] whose logits to compute (each prompt's last real position; every position when scoring)
  pastKey: (layer: number) => `past_key_values.${layer}.key`, // [B, Hkv, 1, C, hd], rotated keys
  pastValue: (layer: number) => `past_key_values.${layer}.value`, // [B, Hkv, 1, C, hd]
  newKey: (layer: number) => `present.${layer}.key`, // [B, Hkv, 1, S, hd]: the new positions' rotated keys
  newValue: (layer: number) => `present.${layer}.value`, // [B, Hkv, 1, S, hd]
  logits: 'logits', // [R, V]
  logNormalizer: 'log_normalizer', // [R]: log Σ_v exp(logits[r, v]), so that logits − it are log-probabilities
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

/** The graph that extends each sequence by S positions given C cached ones (see INFERENCE_IO). With
 * `outputRows`, lm_head is OUTPUT_HEAD_WEIGHT [outputRows, D] and the logits hold those rows only. */
export function buildInferenceGraph(cfg: LlamaConfig, o: { outputRows?: number } = {}): Graph {
  const g = new Graph('llama_extend');
  const io = INFERENCE_IO;
  const D = cfg.hidden_size;
  const eps = cfg.rms_norm_eps;
  const cacheShape = ['batch', cfg.num_key_value_heads, 1, 'cached', headDim(cfg)]; // grouped layout, see groupedAttention
  const x = g.input(io.embeds, 'float32', ['batch', 'seq', D]);
  const mask = g.input(io.attentionMask, 'int64', ['batch', 'seq']);
  const positions = g.input(io.positionIds, 'int64', ['batch', 'seq']);
  const pastBias = g.input(io.pastBias, 'float32', ['batch', 1, 1, 1, 'cached']);
  const lastIndex = g.input(io.lastIndex, 'int64', ['rows']);
  const rope = rotaryCosSin(g, rotaryTables(headDim(cfg), cfg.rope_theta, cfg.max_position_embeddings), positions);
  const newBias = attentionBias(x, mask);

  let h = x;
  let normed = rmsNormFused(x, layerWeights(g, cfg, 0).inputNorm, eps);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const w = layerWeights(g, cfg, i);
    const { q, k, v } = projectQkv(cfg, ops.linear(normed, w.q), ops.linear(normed, w.k), ops.linear(normed, w.v), rope);
    const keys = groupedLayout(k); // [B, Hkv, 1, S, hd]
    const values = groupedLayout(v);
    g.output(io.newKey(i), keys);
    g.output(io.newValue(i), values);
    const past = { keys: g.input(io.pastKey(i), 'float32', cacheShape), values: g.input(io.pastValue(i), 'float32', cacheShape), bias: pastBias };
    const context = groupedAttention(cfg, q, [past, { keys, values, bias: newBias }]);
    [normed, h] = addRmsNorm(ops.linear(context, w.o), h, w.postNorm, eps);
    const nextNorm = i + 1 < cfg.num_hidden_layers ? layerWeights(g, cfg, i + 1).inputNorm : finalNormWeight(g, cfg);
    [normed, h] = addRmsNorm(swiGlu(normed, w), h, nextNorm, eps);
  }
  const last = ops.gather(ops.reshape(normed, [-1, D]), lastIndex, 0); // [R, D]: final-normed positions asked for
  const head = o.outputRows === undefined ? lmHeadWeight(g, cfg) : g.param(OUTPUT_HEAD_WEIGHT, 'float32', [o.outputRows, D]);
  const logits = ops.linear(last, head);
  g.output(io.logits, logits);
  const normalizer = ops.custom('ReduceLogSumExp', [logits, ops.int64s(g, [-1])], { keepdims: attr.int(0) }, [{ dtype: 'float32', shape: [logits.dim(0)] }])[0];
  g.output(io.logNormalizer, normalizer);
  return g;
}

/** A prompt for LlamaRunner: token ids, or ready input embeddings (text with visual tokens spliced in). */
export interface LlamaPrompt extends PromptInput {
  /** [len × hidden_size] row-major; when given, these are the prompt and `ids` are not embedded (they may
   * hold image placeholders). */
  readonly embeds?: Float32Array;
}

export interface LlamaRunnerOptions {
  /** Bounds every sequence of a batch at longest prompt + maxNewTokens positions (and always at
   * max_position_embeddings); the cache grows as needed up to that bound and never past it. */
  maxNewTokens?: number;
  /** onnxruntime intra-op threads (default all cores). */
  threads?: number;
  /** The only tokens the decoder may write (distinct ids in the vocabulary): lm_head computes their logits alone,
   * every other token's logit is −∞. Default: the whole vocabulary. */
  outputIds?: readonly number[];
}

/** Weights by checkpoint name (float32). */
export type WeightLookup = (name: string) => HostTensor | undefined;

/** One layer's cache, [B, Hkv, capacity, hd]. */
interface LayerCache {
  key: Float32Array;
  value: Float32Array;
}

/**
 * The decoder with a KV cache, as the generation loop drives it (DecoderStepper): `prefill` a batch of
 * prompts, then `step` the sequences still running, one token each.
 * Finished sequences are dropped from the batch by compacting the cache in place.
 */
export class LlamaRunner implements DecoderStepper<LlamaPrompt> {
  private cache: LayerCache[] = [];
  /** Positions the cache holds per sequence, and the most it may grow to. */
  private capacity = 0;
  private limit = 0;
  /** Per batch row: which prefill sequence it holds and how many of its positions are cached. */
  private rows: { sequence: number; length: number }[] = [];
  private readonly kvHeads: number;
  private readonly headDim: number;
  /** What a prefill or step fetches: the logits and the new keys and values (not the normalisers). */
  private readonly stepOutputs: string[];
  /** The output vocabulary (ascending ids), when lm_head is trimmed to it. */
  private readonly outputIds: Int32Array | undefined;

  private constructor(
    readonly config: LlamaConfig,
    private readonly session: Session,
    private readonly embedTable: Float32Array,
    private readonly options: LlamaRunnerOptions,
    outputIds: Int32Array | undefined,
  ) {
    this.kvHeads = config.num_key_value_heads;
    this.headDim = headDim(config);
    const layers = Array.from({ length: config.num_hidden_layers }, (_, i) => i);
    this.stepOutputs = [INFERENCE_IO.logits, ...layers.flatMap((i) => [INFERENCE_IO.newKey(i), INFERENCE_IO.newValue(i)])];
    this.outputIds = outputIds;
  }

  /** Compile the inference graph with `weights` as initializers. */
  static async create(config: LlamaConfig, weights: WeightLookup, options: LlamaRunnerOptions = {}): Promise<LlamaRunner> {
    const embed = weights('model.embed_tokens.weight');
    if (!embed || embed.dtype !== 'float32') throw new Error('LlamaRunner: needs model.embed_tokens.weight as float32');
    const outputIds = options.outputIds && sortedOutputIds(config, options.outputIds);
    let lookup = weights;
    if (outputIds) {
      const rows = outputHeadRows(config, weights, outputIds);
      lookup = (name) => (name === OUTPUT_HEAD_WEIGHT ? rows : weights(name));
    }
    const graph = buildInferenceGraph(config, { outputRows: outputIds?.length });
    const session = await compile(graph, { params: 'initializers', weights: lookup, threads: options.threads, noCache: true });
    return new LlamaRunner(config, session, embed.data as Float32Array, options, outputIds);
  }

  async prefill(batch: readonly LlamaPrompt[]): Promise<Float32Array[]> {
    this.rows = [];
    if (batch.length === 0) return [];
    const D = this.config.hidden_size;
    const prompts = batch.map((p, b) => this.promptEmbeds(p, b));
    const lengths = prompts.map((e) => e.length / D);
    const S = Math.max(...lengths);
    const maxPositions = this.config.max_position_embeddings;
    if (S > maxPositions) throw new Error(`prefill: a prompt of ${S} positions exceeds max_position_embeddings ${maxPositions}`);
    this.limit = Math.min(maxPositions, S + (this.options.maxNewTokens ?? maxPositions));
    const B = batch.length;
    this.rows = lengths.map((_, sequence) => ({ sequence, length: 0 }));
    this.capacity = 0;
    this.cache = Array.from({ length: this.config.num_hidden_layers }, () => ({ key: new Float32Array(0), value: new Float32Array(0) }));

    const embeds = new Float32Array(B * S * D); // right padding: positions past a prompt's end stay 0
    prompts.forEach((e, b) => embeds.set(e, b * S * D));
    const mask = new BigInt64Array(B * S);
    const positions = new BigInt64Array(B * S);
    lengths.forEach((len, b) => {
      for (let t = 0; t < S; t++) {
        mask[b * S + t] = t < len ? 1n : 0n;
        positions[b * S + t] = BigInt(t);
      }
    });
    const last = lengths.map((len, b) => b * S + len - 1);
    return this.run({ S, embeds, mask, positions, last, newLengths: lengths });
  }

  async step(batch: readonly StepInput[]): Promise<Float32Array[]> {
    if (this.rows.length === 0) throw new Error('step: no sequences (call prefill first)');
    if (batch.length === 0) return [];
    this.keepRows(batch.map((s) => s.sequence));
    const D = this.config.hidden_size;
    const B = batch.length;
    const lengths = this.rows.map((r) => r.length);
    if (Math.max(...lengths) >= this.limit) {
      throw new Error(`step: a sequence has reached ${this.limit} positions, the most this batch may hold (max_position_embeddings, longest prompt + maxNewTokens)`);
    }
    const embeds = new Float32Array(B * D);
    batch.forEach((s, b) => embeds.set(this.embedRow(s.token), b * D));
    const positions = BigInt64Array.from(lengths, BigInt);
    const mask = new BigInt64Array(B).fill(1n);
    return this.run({ S: 1, embeds, mask, positions, last: lengths.map((_, b) => b), newLengths: lengths.map(() => 1) });
  }

  /**
   * The log-probabilities (logits minus their log-sum-exp) after each token of each continuation of a running
   * sequence, as if the continuation had been stepped token by token; the sequence itself is left as it is. This scores candidate answers (a label chosen
   * by its probability, see text/guide.ts) without committing to one: the continuations run as one batch of S new
   * positions over the sequence's cached ones (shared by broadcasting, not copied), every position's logits
   * computed, EXTEND_BATCH continuations at a time.
   */
  async extend(sequence: number, continuations: readonly (readonly number[])[]): Promise<Float32Array[][]> {
    const row = this.rows.findIndex((r) => r.sequence === sequence);
    if (row < 0) throw new Error(`extend: sequence ${sequence} is not running (finished, or not in the prefill batch)`);
    if (continuations.some((c) => c.length === 0)) throw new Error('extend: a continuation is empty');
    const out: Float32Array[][] = [];
    for (let i = 0; i < continuations.length; i += EXTEND_BATCH) {
      out.push(...(await this.extendBatch(row, continuations.slice(i, i + EXTEND_BATCH))));
    }
    return out;
  }

  private async extendBatch(row: number, continuations: readonly (readonly number[])[]): Promise<Float32Array[][]> {
    const io = INFERENCE_IO;
    const D = this.config.hidden_size;
    const cached = this.rows[row].length;
    const B = continuations.length;
    const S = Math.max(...continuations.map((c) => c.length));
    if (cached + S > this.config.max_position_embeddings) {
      throw new Error(`extend: ${cached} cached positions and a continuation of ${S} exceed max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    const embeds = new Float32Array(B * S * D);
    const mask = new BigInt64Array(B * S);
    const positions = new BigInt64Array(B * S);
    const rowsAsked: number[] = [];
    continuations.forEach((ids, b) => {
      ids.forEach((id, t) => {
        embeds.set(this.embedRow(id), (b * S + t) * D);
        mask[b * S + t] = 1n;
        rowsAsked.push(b * S + t);
      });
      for (let t = 0; t < S; t++) positions[b * S + t] = BigInt(cached + t);
    });
    // The row's cache is fed once, as a batch of one, and attention broadcasts it over the continuations (the
    // graph's MatMuls broadcast batch dimensions): no copy. Its positions past `cached` are masked.
    const hd = this.headDim;
    const C = this.capacity;
    const rowSize = this.kvHeads * C * hd;
    const pastBias = new Float32Array(C).fill(MASK_VALUE, cached);
    const feeds: Record<string, HostTensor> = {
      [io.embeds]: hostTensor('float32', [B, S, D], embeds),
      [io.attentionMask]: hostTensor('int64', [B, S], mask),
      [io.positionIds]: hostTensor('int64', [B, S], positions),
      [io.pastBias]: hostTensor('float32', [1, 1, 1, 1, C], pastBias),
      [io.lastIndex]: hostTensor('int64', [rowsAsked.length], BigInt64Array.from(rowsAsked, BigInt)),
    };
    const cacheShape = [1, this.kvHeads, 1, C, hd];
    this.cache.forEach((c, i) => {
      feeds[io.pastKey(i)] = hostTensor('float32', cacheShape, c.key.subarray(row * rowSize, (row + 1) * rowSize));
      feeds[io.pastValue(i)] = hostTensor('float32', cacheShape, c.value.subarray(row * rowSize, (row + 1) * rowSize));
    });
    // Only the logits and their normalisers are fetched (not the new keys and values, which nothing keeps).
    const out = await this.session.run(feeds, { outputs: [io.logits, io.logNormalizer] });
    const logits = out[io.logits].data as Float32Array;
    const normalizer = out[io.logNormalizer].data as Float32Array;
    let next = 0;
    return continuations.map((ids) =>
      ids.map(() => {
        const r = next++;
        return this.logitRow(logits, r, normalizer[r]);
      }),
    );
  }

  /** Free the compiled session (the runner cannot be used afterwards). */
  async release(): Promise<void> {
    this.cache = [];
    this.rows = [];
    await this.session.release();
  }

  /** Run the graph on S new positions per row (`newLengths[b]` of them real), append their keys and values
   * to the cache after each row's cached positions, and return the logits at rows `last` of [B·S, V]. */
  private async run(a: { S: number; embeds: Float32Array; mask: BigInt64Array; positions: BigInt64Array; last: number[]; newLengths: number[] }): Promise<Float32Array[]> {
    const io = INFERENCE_IO;
    const B = this.rows.length;
    const S = a.S;
    // An empty cache (prefill) is fed as one masked position: onnxruntime kernels and zero-sized tensors mix badly.
    const C = Math.max(this.capacity, 1);
    const pastBias = new Float32Array(B * C);
    this.rows.forEach((r, b) => pastBias.fill(MASK_VALUE, b * C + r.length, (b + 1) * C));
    const feeds: Record<string, HostTensor> = {
      [io.embeds]: hostTensor('float32', [B, S, this.config.hidden_size], a.embeds),
      [io.attentionMask]: hostTensor('int64', [B, S], a.mask),
      [io.positionIds]: hostTensor('int64', [B, S], a.positions),
      [io.pastBias]: hostTensor('float32', [B, 1, 1, 1, C], pastBias),
      [io.lastIndex]: hostTensor('int64', [B], BigInt64Array.from(a.last, BigInt)),
    };
    const cacheShape = [B, this.kvHeads, 1, C, this.headDim];
    const empty = this.capacity === 0 ? new Float32Array(B * this.kvHeads * this.headDim) : undefined;
    this.cache.forEach((c, i) => {
      feeds[io.pastKey(i)] = hostTensor('float32', cacheShape, empty ?? c.key);
      feeds[io.pastValue(i)] = hostTensor('float32', cacheShape, empty ?? c.value);
    });
    const out = await this.session.run(feeds, { outputs: this.stepOutputs });

    this.reserve(Math.max(...this.rows.map((r, b) => r.length + a.newLengths[b])));
    const hd = this.headDim;
    const span = this.capacity * hd; // one (row, head) block of the cache
    this.cache.forEach((c, i) => {
      const keys = out[io.newKey(i)].data as Float32Array; // [B, Hkv, 1, S, hd]
      const values = out[io.newValue(i)].data as Float32Array;
      this.rows.forEach((r, b) => {
        for (let h = 0; h < this.kvHeads; h++) {
          const from = (b * this.kvHeads + h) * S * hd;
          const to = (b * this.kvHeads + h) * span + r.length * hd;
          c.key.set(keys.subarray(from, from + a.newLengths[b] * hd), to);
          c.value.set(values.subarray(from, from + a.newLengths[b] * hd), to);
        }
      });
    });
    this.rows.forEach((r, b) => (r.length += a.newLengths[b]));

    const logits = out[io.logits].data as Float32Array;
    return a.last.map((_, b) => this.logitRow(logits, b));
  }

  /** Row r of the graph's logits, less `shift`, as a vocabulary-long row: a view shifted in place, or with an output
   * vocabulary a new row that is −∞ outside it. */
  private logitRow(logits: Float32Array, r: number, shift = 0): Float32Array {
    const V = this.config.vocab_size;
    const ids = this.outputIds;
    if (!ids) {
      const row = logits.subarray(r * V, (r + 1) * V);
      if (shift !== 0) for (let v = 0; v < V; v++) row[v] -= shift;
      return row;
    }
    const row = new Float32Array(V).fill(-Infinity);
    const K = ids.length;
    for (let k = 0; k < K; k++) row[ids[k]] = logits[r * K + k] - shift;
    return row;
  }

  /** Grow the cache, in CACHE_CHUNK steps up to the limit, to hold `positions` per sequence. */
  private reserve(positions: number): void {
    if (positions <= this.capacity) return;
    const capacity = Math.min(this.limit, Math.ceil(positions / CACHE_CHUNK) * CACHE_CHUNK);
    const blocks = this.rows.length * this.kvHeads;
    const grow = (old: Float32Array) => {
      const data = new Float32Array(blocks * capacity * this.headDim);
      for (let k = 0; k < blocks; k++) data.set(old.subarray(k * this.capacity * this.headDim, (k + 1) * this.capacity * this.headDim), k * capacity * this.headDim);
      return data;
    };
    this.cache = this.cache.map((c) => ({ key: grow(c.key), value: grow(c.value) }));
    this.capacity = capacity;
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
    // Row from[r] moves to row r ≤ from[r]: copying in increasing order never overwrites a row still to be read.
    const rowSize = this.kvHeads * this.capacity * this.headDim;
    const compact = (data: Float32Array) => {
      from.forEach((src, dst) => data.copyWithin(dst * rowSize, src * rowSize, (src + 1) * rowSize));
      return data.subarray(0, from.length * rowSize);
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

/** `outputIds` checked (distinct, in the vocabulary) and in ascending order. */
function sortedOutputIds(config: LlamaConfig, ids: readonly number[]): Int32Array {
  const V = config.vocab_size;
  if (ids.length === 0) throw new Error('LlamaRunner: outputIds is empty');
  for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`LlamaRunner: output id ${id} is outside the vocabulary (vocab_size ${V})`);
  const sorted = Int32Array.from(ids).sort();
  sorted.forEach((id, k) => {
    if (k > 0 && id === sorted[k - 1]) throw new Error(`LlamaRunner: output id ${id} is listed twice`);
  });
  return sorted;
}

/** lm_head's rows for the ascending ids `sorted`: OUTPUT_HEAD_WEIGHT. */
function outputHeadRows(config: LlamaConfig, weights: WeightLookup, sorted: Int32Array): HostTensor {
  const D = config.hidden_size;
  const name = config.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const head = weights(name);
  if (!head || head.dtype !== 'float32') throw new Error(`LlamaRunner: needs ${name} as float32`);
  const table = head.data as Float32Array;
  const rows = new Float32Array(sorted.length * D);
  sorted.forEach((id, k) => rows.set(table.subarray(id * D, (id + 1) * D), k * D));
  return hostTensor('float32', [sorted.length, D], rows);
}
