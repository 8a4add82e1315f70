// Face-LLaVA composed (SPEC §2):
//
//   frames ──► E_V ──► P_V ──► h_v ─┐
//   landmarks z ──► FRLP ──► h_l ───┴─► cross-attention(h_v, h_l, z) ──► h_v^l   (one row of tokens per frame)
//   prompt ids with one `<image>` placeholder per frame ──► [text embeddings, h_v^l spliced in] ──► LLaMA
//
// Under `standardize_tokens`, E_V's tokens are standardized channel by channel before P_V (token-norm.ts).
// The visual path works frame by frame: F frames (all the images and video frames of a batch, in the order
// their placeholders appear) give visual tokens [F, N, d], and the k-th placeholder of the batch is replaced by
// the N tokens of frame k. Where each position of the spliced sequence comes from is computed on the host
// (spliceLayout) and applied in the graph by one Gather (spliceEmbeddings).
import { Graph, type Tensor, GraphBuildError } from '../graph/graph.js';
import { i64, type HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { compile, type Session } from '../graph/session.js';
import { generate, type GenerateOptions, type Generation } from '../text/generate.js';
import { type BindOptions, declaredParams, type LoadReport, loadWeights, type WeightSource } from './checkpoint.js';
import { type FaceLlavaConfig, visionGrid } from './config.js';
import { frgca, simpleCrossAttention, SIMPLE_CROSS_ATTENTION_UNUSED } from './frgca.js';
import { frlp } from './frlp.js';
import { buildInferenceGraph, LlamaRunner, type LlamaPrompt, type LlamaRunnerOptions, type WeightLookup } from './kv-cache.js';
import { causalLmLoss, decoderForward, embedTokens, IGNORE_INDEX } from './llama.js';
import { projector } from './projector.js';
import { NUM_LANDMARKS, tokensPerFrame } from './regions.js';
import { standardizeTokens } from './token-norm.js';
import { type FrozenNetwork, type VisualEncoder, visualEncoder } from './vision/encoder.js';

// ---------------------------------------------------------------------------------------------------------
// the visual path

/** Whether the model has a landmark branch (FRLP and cross-attention) to feed. */
export function usesLandmarks(cfg: FaceLlavaConfig): boolean {
  return cfg.cross_attn.cross_attn_type !== 'none';
}

/**
 * Visual tokens h_v^l [F, N, d] for frames [F, ...frameShape] and their landmarks [F, 68, 2]. Without
 * landmarks (or without a landmark branch) the projected tokens h_v are returned, as the released inference
 * does when it is given none.
 */
export function visualTokens(cfg: FaceLlavaConfig, encoder: VisualEncoder, frames: Tensor, landmarks?: Tensor): Tensor {
  return projectTokens(cfg, encoder, encoder.encode(frames), landmarks);
}

/** The visual path after the encoder: its tokens [F, N, C] (and the landmarks) → h_v^l [F, N, d]. */
function projectTokens(cfg: FaceLlavaConfig, encoder: VisualEncoder, tokens: Tensor, landmarks?: Tensor): Tensor {
  const g = tokens.graph;
  const width = cfg.llm.hidden_size;
  return g.scope('model', () => {
    const hv = projector(cfg.standardize_tokens ? standardizeTokens(tokens) : tokens, cfg.mm_projector_type, width);
    const x = cfg.cross_attn;
    if (!landmarks || x.cross_attn_type === 'none') return hv;
    const hl = frlp(landmarks, cfg.face_regions, width);
    if (x.cross_attn_type === 'simple') {
      return simpleCrossAttention(hv, hl, { heads: x.num_heads, branchScale: x.branch_scale, layerNormEps: x.layer_norm_eps });
    }
    return frgca(hv, hl, landmarks, { heads: x.num_heads, rppMask: x.rpp_mask, grid: encoder.grid, regions: cfg.face_regions });
  });
}

/** Checkpoint keys a model of this config knowingly does not read (pass them to loadWeights as `unused`). */
export function unusedCheckpointKeys(cfg: FaceLlavaConfig, encoder: VisualEncoder): string[] {
  const simple = cfg.cross_attn.cross_attn_type === 'simple' ? SIMPLE_CROSS_ATTENTION_UNUSED.map((k) => `model.${k}`) : [];
  return [...encoder.unusedParams, ...simple];
}

// ---------------------------------------------------------------------------------------------------------
// splicing visual tokens into the text

export interface SpliceLayout {
  /** int64 [B, Lt]: each sequence's ids without its placeholders, right-padded with 0. */
  readonly textIds: HostTensor;
  /** int64 [B, S]: the row of [text rows (B·Lt) ; visual rows (F·N)] at each position of the spliced sequence. */
  readonly rows: HostTensor;
  /** int64 [B, S]: 1 at real positions, 0 at the right padding (which takes row 0). */
  readonly attentionMask: HostTensor;
  /** int64 [B, S]: the given labels at text positions, IGNORE_INDEX at visual positions and padding. */
  readonly labels?: HostTensor;
  /** Spliced length of each sequence; S is the longest. */
  readonly lengths: readonly number[];
  /** F: placeholders in the batch, each to be filled by one frame's tokens. */
  readonly frames: number;
}

/**
 * Where each position of the spliced sequences comes from, for `ids` holding `imageTokenIndex` once per frame
 * (and `labels`, when given, aligned with `ids`): placeholder k of the batch, counted sequence by sequence,
 * becomes the `tokensPerFrame` tokens of visual frame k.
 */
export function spliceLayout(
  ids: readonly (readonly number[])[],
  o: { tokensPerFrame: number; imageTokenIndex: number },
  labels?: readonly (readonly number[])[],
): SpliceLayout {
  if (ids.length === 0) throw new Error('spliceLayout: no sequences');
  if (labels && (labels.length !== ids.length || labels.some((l, b) => l.length !== ids[b].length))) {
    throw new Error('spliceLayout: labels must align with ids');
  }
  const batch = ids.length;
  const textLength = Math.max(...ids.map((s) => s.filter((id) => id !== o.imageTokenIndex).length));
  const textRows = batch * textLength;
  // Per sequence: [row, label] of each spliced position.
  const spliced: [number, number][][] = [];
  let frame = 0;
  ids.forEach((sequence, b) => {
    const out: [number, number][] = [];
    let text = 0;
    sequence.forEach((id, i) => {
      if (id !== o.imageTokenIndex) {
        out.push([b * textLength + text++, labels ? labels[b][i] : IGNORE_INDEX]);
        return;
      }
      for (let n = 0; n < o.tokensPerFrame; n++) out.push([textRows + frame * o.tokensPerFrame + n, IGNORE_INDEX]);
      frame++;
    });
    spliced.push(out);
  });
  const length = Math.max(...spliced.map((s) => s.length));
  const padded = (pick: (p: [number, number]) => number, fill: number) =>
    i64([batch, length], spliced.flatMap((s) => [...s.map(pick), ...Array<number>(length - s.length).fill(fill)]));
  return {
    textIds: i64(
      [batch, textLength],
      ids.flatMap((s) => {
        const text = s.filter((id) => id !== o.imageTokenIndex);
        return [...text, ...Array<number>(textLength - text.length).fill(0)];
      }),
    ),
    rows: padded(([row]) => row, 0),
    attentionMask: padded(() => 1, 0),
    labels: labels ? padded(([, label]) => label, IGNORE_INDEX) : undefined,
    lengths: spliced.map((s) => s.length),
    frames: frame,
  };
}

/** [text embeddings [B, Lt, d] ; visual tokens [F, N, d]] gathered by `rows` [B, S] into [B, S, d]. */
export function spliceEmbeddings(textEmbeds: Tensor, visual: Tensor, rows: Tensor): Tensor {
  const d = textEmbeds.dim(-1);
  if (typeof d !== 'number' || visual.dim(-1) !== d) throw new GraphBuildError(`spliceEmbeddings: ${textEmbeds} and ${visual} differ in width`);
  return ops.gather(ops.concat([ops.reshape(textEmbeds, [-1, d]), ops.reshape(visual, [-1, d])], 0), rows, 0);
}

// ---------------------------------------------------------------------------------------------------------
// whole-model graphs

/** Names of the runtime inputs and outputs of the graphs below. */
export const IO = {
  pixels: 'pixel_values',
  landmarks: 'landmarks',
  textIds: 'input_ids',
  rows: 'splice_rows',
  attentionMask: 'attention_mask',
  labels: 'labels',
  visualTokens: 'visual_tokens',
  /** The encoder's tokens averaged over the grid [F, C]: what the label heads read (label-heads.ts). */
  pooledFeatures: 'pooled_features',
  logits: 'logits',
  loss: 'loss',
} as const;

/**
 * The visual path alone: pixel_values [F, ...frameShape] (+ landmarks [F, 68, 2]) → visual_tokens [F, N, d], and
 * with `pooled` the encoder's tokens averaged over the grid, pooled_features [F, C].
 */
export function buildVisualGraph(cfg: FaceLlavaConfig, encoder: VisualEncoder, withLandmarks = usesLandmarks(cfg), pooled = false): Graph {
  const g = new Graph('face_llava_visual');
  const frames = g.input(IO.pixels, 'float32', ['frames', ...encoder.frameShape]);
  const landmarks = withLandmarks ? g.input(IO.landmarks, 'float32', ['frames', NUM_LANDMARKS, 2]) : undefined;
  const tokens = encoder.encode(frames);
  g.output(IO.visualTokens, projectTokens(cfg, encoder, tokens, landmarks));
  if (pooled) g.output(IO.pooledFeatures, ops.mean(tokens, [1]));
  return g;
}

/**
 * The training forward: visual path, splice, decoder, and the next-token loss on the answer tokens only (the
 * labels of everything else are IGNORE_INDEX, see spliceLayout). Inputs pixel_values, landmarks (when the
 * model has a landmark branch), input_ids, splice_rows, attention_mask, labels; outputs visual_tokens, logits
 * [B, S, V] and loss.
 */
export function buildTrainingGraph(cfg: FaceLlavaConfig, encoder: VisualEncoder): Graph {
  const g = buildVisualGraph(cfg, encoder);
  const visual = g.outputMap.get(IO.visualTokens)!;
  const textIds = g.input(IO.textIds, 'int64', ['batch', 'text']);
  const rows = g.input(IO.rows, 'int64', ['batch', 'seq']);
  const attentionMask = g.input(IO.attentionMask, 'int64', ['batch', 'seq']);
  const labels = g.input(IO.labels, 'int64', ['batch', 'seq']);
  const embeds = spliceEmbeddings(embedTokens(g, cfg.llm, textIds), visual, rows);
  const logits = decoderForward(g, cfg.llm, embeds, { attentionMask });
  g.output(IO.logits, logits);
  g.output(IO.loss, causalLmLoss(logits, labels));
  return g;
}

/** The number of visual tokens one frame contributes to the LLM's context. */
export function visualTokensPerFrame(cfg: FaceLlavaConfig): number {
  return tokensPerFrame(visionGrid(cfg.vision));
}

// ---------------------------------------------------------------------------------------------------------
// inference

/**
 * One question about one piece of media: its frames, encoded for the question, or the visual tokens encodeMedia
 * made of them, which several questions about the same media can share.
 */
export type MediaRequest = FramesRequest | EncodedMediaRequest;

/** A question about frames the model encodes for it. */
export interface FramesRequest {
  /** Prompt ids with one IMAGE_TOKEN_INDEX placeholder per frame (text/chat.ts builds them). */
  readonly ids: readonly number[];
  /** The frames [F, ...frameShape] (an image is one frame, a video `frames_per_video`). */
  readonly frames: HostTensor;
  /** Their landmarks [F, 68, 2], normalized to [0, 1]; without them the landmark branch is skipped. */
  readonly landmarks?: HostTensor;
}

/** A question about media encoded already. */
export interface EncodedMediaRequest {
  /** Prompt ids with one IMAGE_TOKEN_INDEX placeholder per frame (text/chat.ts builds them). */
  readonly ids: readonly number[];
  /** The media's visual tokens [F, N, d], as encodeMedia returns them. */
  readonly visual: HostTensor;
}

export interface FaceLlavaOptions extends LlamaRunnerOptions {
  /** The frozen network of a `feature_map` vision encoder. */
  readonly network?: FrozenNetwork;
}

/**
 * Face-LLaVA for answering: encodes each request's media (visual path) unless it comes encoded, splices the
 * visual tokens into the prompt embeddings, and lets the text side's `generate` drive the KV-cached decoder.
 */
export class FaceLlava {
  /** Compiled visual paths, with and without landmarks and pooled features, built on first use. */
  private readonly visual = new Map<string, Promise<Session>>();

  private constructor(
    readonly config: FaceLlavaConfig,
    readonly encoder: VisualEncoder,
    private readonly weights: WeightLookup,
    private readonly runner: LlamaRunner,
    private readonly embedTable: Float32Array,
  ) {}

  /** A model over weights already bound by checkpoint name (float32). */
  static async create(config: FaceLlavaConfig, weights: WeightLookup, options: FaceLlavaOptions = {}): Promise<FaceLlava> {
    const encoder = visualEncoder(config.vision, options.network);
    const embed = weights('model.embed_tokens.weight');
    if (!embed || embed.dtype !== 'float32') throw new Error('FaceLlava: needs model.embed_tokens.weight as float32');
    const runner = await LlamaRunner.create(config.llm, weights, options);
    return new FaceLlava(config, encoder, weights, runner, embed.data as Float32Array);
  }

  /**
   * A model whose weights are read from checkpoint sources (an LLM checkpoint, a vision tower, …): every
   * parameter of its graphs must be found and every tensor used, except those the config knowingly ignores
   * (see loadWeights for `strict`). Returns the load report too.
   */
  static async fromCheckpoint(
    config: FaceLlavaConfig,
    sources: WeightSource | readonly WeightSource[],
    options: FaceLlavaOptions & BindOptions = {},
  ): Promise<{ model: FaceLlava; report: LoadReport }> {
    const encoder = visualEncoder(config.vision, options.network);
    // The training graph declares every weight (the inference graph reads the embeddings on the host).
    const params = declaredParams(buildTrainingGraph(config, encoder), buildInferenceGraph(config.llm));
    const unused = [...unusedCheckpointKeys(config, encoder), ...(options.unused ?? [])];
    const { weights, report } = loadWeights(params, sources, { strict: options.strict, unused });
    return { model: await FaceLlava.create(config, (name) => weights.get(name), options), report };
  }

  /** Visual tokens [F, N, d] of frames [F, ...frameShape] and, when given, their landmarks [F, 68, 2]. */
  async encodeMedia(frames: HostTensor, landmarks?: HostTensor): Promise<HostTensor> {
    return (await this.encode(frames, landmarks)).visual;
  }

  /**
   * Visual tokens [F, N, d] of frames, and with `pooled` the encoder's tokens averaged over the grid [F, C] (what
   * label heads read), from the same encoder run.
   */
  async encode(frames: HostTensor, landmarks?: HostTensor, o: { pooled?: boolean } = {}): Promise<{ visual: HostTensor; pooled?: HostTensor }> {
    const withLandmarks = landmarks !== undefined && usesLandmarks(this.config);
    const pooled = o.pooled === true;
    const key = `${withLandmarks}:${pooled}`;
    let session = this.visual.get(key);
    if (!session) {
      session = compile(buildVisualGraph(this.config, this.encoder, withLandmarks, pooled), { params: 'initializers', weights: this.weights, noCache: true });
      this.visual.set(key, session);
    }
    const feeds: Record<string, HostTensor> = { [IO.pixels]: frames };
    if (withLandmarks) feeds[IO.landmarks] = landmarks!;
    const out = await (await session).run(feeds);
    return { visual: out[IO.visualTokens], ...(pooled && { pooled: out[IO.pooledFeatures] }) };
  }

  /** The prompt embeddings [S × d] of `ids` with the visual tokens [F, N, d] of its F placeholders spliced in. */
  promptEmbeddings(ids: readonly number[], visual: HostTensor): Float32Array {
    const d = this.config.llm.hidden_size;
    const n = visualTokensPerFrame(this.config);
    const layout = spliceLayout([ids], { tokensPerFrame: n, imageTokenIndex: this.config.image_token_index });
    if (visual.shape.length !== 3 || visual.shape[0] !== layout.frames || visual.shape[1] !== n || visual.shape[2] !== d) {
      throw new Error(`FaceLlava: the prompt has ${layout.frames} placeholders, so it needs visual tokens [${layout.frames}, ${n}, ${d}], got [${visual.shape.join(', ')}]`);
    }
    const text = Array.from(layout.textIds.data as BigInt64Array, Number);
    const tokens = visual.data as Float32Array;
    const out = new Float32Array(layout.lengths[0] * d);
    Array.from(layout.rows.data as BigInt64Array, Number).forEach((row, position) => {
      const source = row < text.length ? this.embedRow(text[row]) : tokens.subarray((row - text.length) * d, (row - text.length + 1) * d);
      out.set(source, position * d);
    });
    return out;
  }

  /**
   * Answers to a batch of requests, generated as `options` say (sampling, stop strings, streaming). A request
   * with frames has them encoded; one with `visual` tokens uses those, so questions about the same media share
   * one encoding.
   */
  async generate(requests: readonly MediaRequest[], options: GenerateOptions): Promise<Generation[]> {
    const prompts: LlamaPrompt[] = [];
    for (const r of requests) {
      const visual = 'visual' in r ? r.visual : await this.encodeMedia(r.frames, r.landmarks);
      prompts.push({ ids: r.ids, embeds: this.promptEmbeddings(r.ids, visual) });
    }
    return generate(this.runner, prompts, options);
  }

  /** Free the compiled sessions. */
  async release(): Promise<void> {
    for (const session of this.visual.values()) await (await session).release();
    this.visual.clear();
    await this.runner.release();
  }

  private embedRow(id: number): Float32Array {
    const d = this.config.llm.hidden_size;
    if (!Number.isInteger(id) || id < 0 || id >= this.config.llm.vocab_size) throw new Error(`token id ${id} is outside the vocabulary`);
    return this.embedTable.subarray(id * d, (id + 1) * d);
  }
}
