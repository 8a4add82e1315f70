// The graph a training step runs. The encoder is frozen in every stage, so its tokens are computed once per
// crop and cached (features.ts); the graph starts after it:
//
//   encoder tokens [F, N, C] ──► projector ──► FRGCA(·, FRLP(landmarks), landmarks) ──► splice ──► decoder ──► loss
//
// The same model code as inference (model/face-llava.ts) builds it, with the encoder replaced by the identity —
// or, for an encoder trained from a split (EncoderSplit), by its tail: the cache then holds the frozen prefix's map
// as tokens [F, G'², C'], and the tail's weights are parameters of this graph like the projector's.
//
// The loss is Hugging Face's causal-LM loss over the answer tokens (LLaVA's labels), computed where it counts
// only: the output projection (lm_head, [V = 32000, D]) and the softmax over the vocabulary run on the hidden
// states of the positions whose next token is an answer token, gathered first — not on every position, most of
// which (system prompt, instruction, visual tokens, padding) the loss ignores. For a vocabulary this large next
// to a small decoder, lm_head is about half of a step's arithmetic.
import { GraphBuildError, Graph, type Tensor } from '../graph/graph.js';
import { i64, type HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';
import { type FaceLlavaConfig, visionGrid, visionWidth } from '../model/config.js';
import { IO, spliceEmbeddings, usesLandmarks, visualTokens, visualTokensPerFrame } from '../model/face-llava.js';
import { decoderForward, embedTokens, IGNORE_INDEX, lmHeadWeight } from '../model/llama.js';
import { gridTokens, NUM_LANDMARKS } from '../model/regions.js';
import type { EncoderSplit, VisualEncoder } from '../model/vision/encoder.js';

/** The input that takes cached encoder tokens in place of pixels. */
export const ENCODER_TOKENS = 'encoder_tokens';
/** int64 [K]: positions b·S + t (of the spliced batch [B, S]) whose next token is an answer token. */
export const ANSWER_POSITIONS = 'answer_positions';
/** int64 [K]: that next token, the target of position K (IGNORE_INDEX: a placeholder that counts for nothing). */
export const ANSWER_LABELS = 'answer_labels';

export interface TrainingGraph {
  graph: Graph;
  /** Mean next-token cross-entropy over the answer tokens of the batch; 0 when the batch has none. */
  loss: Tensor;
}

/**
 * Inputs encoder_tokens [F, N, C] (with a split encoder: the prefix's [F, G'², C']), landmarks [F, 68, 2] (when
 * the model has a landmark branch), input_ids, splice_rows and attention_mask as spliceLayout gives them,
 * answer_positions and answer_labels as answerTargets computes them from its labels; output `loss`.
 */
export function buildTrainingGraph(cfg: FaceLlavaConfig, split?: EncoderSplit): TrainingGraph {
  const g = new Graph('face_llava_train');
  const width = visionWidth(cfg.vision);
  const [n, cachedWidth] = split ? [split.grid * split.grid, split.channels] : [visualTokensPerFrame(cfg), width];
  const tokens = g.input(ENCODER_TOKENS, 'float32', ['frames', n, cachedWidth]);
  const landmarks = usesLandmarks(cfg) ? g.input(IO.landmarks, 'float32', ['frames', NUM_LANDMARKS, 2]) : undefined;
  const cached: VisualEncoder = {
    frameShape: [n, cachedWidth],
    width,
    grid: visionGrid(cfg.vision),
    unusedParams: [],
    encode: (t) => (split ? gridTokens(split.tail(tokenGrid(t, split.channels, split.grid))) : t),
  };
  const visual = visualTokens(cfg, cached, tokens, landmarks);

  const textIds = g.input(IO.textIds, 'int64', ['batch', 'text']);
  const rows = g.input(IO.rows, 'int64', ['batch', 'seq']);
  const attentionMask = g.input(IO.attentionMask, 'int64', ['batch', 'seq']);
  const logits = decoderForward(g, cfg.llm, spliceEmbeddings(embedTokens(g, cfg.llm, textIds), visual, rows), { attentionMask });
  const head = lmHeadWeight(g, cfg.llm);
  const hidden = ops.reshape(finalHidden(logits, head), [-1, cfg.llm.hidden_size]);
  const positions = g.input(ANSWER_POSITIONS, 'int64', ['answers']);
  const targets = g.input(ANSWER_LABELS, 'int64', ['answers']);
  const loss = answerLoss(ops.linear(ops.gather(hidden, positions, 0), head), targets);
  g.output(IO.loss, loss);
  return { graph: g, loss };
}

/** Tokens [F, G², C] back to the map [F, C, G, G] they were read from (gridTokens' inverse). */
function tokenGrid(tokens: Tensor, channels: number, grid: number): Tensor {
  return ops.reshape(ops.transpose(tokens, [0, 2, 1]), [0, channels, grid, grid]);
}

/**
 * The decoder's final hidden states [B, S, D]: the input of the lm_head projection that made `logits`. Only the
 * projection of the answer positions is computed; the full one, left without a consumer, is never emitted.
 */
function finalHidden(logits: Tensor, head: Tensor): Tensor {
  const projection = logits.producer;
  const weight = projection?.inputs[1]?.producer;
  if (projection?.op !== 'MatMul' || weight?.op !== 'Transpose' || weight.inputs[0] !== head) {
    throw new GraphBuildError(`the decoder's logits ${logits} are not lm_head applied to its hidden states`);
  }
  return projection.inputs[0]!;
}

/**
 * Mean cross-entropy over the counted targets — except that a batch without a single answer token (an answer cut
 * off by truncation, a conversation LLaVA's masking rejects) gives 0 instead of 0/0 = NaN. Its gradient is zero
 * either way (the cross-entropy's backward divides by max(count, 1)); the guard keeps the logged loss a number.
 */
function answerLoss(logits: Tensor, targets: Tensor): Tensor {
  const any = ops.greater(ops.sum(ops.cast(ops.not(ops.equal(targets, IGNORE_INDEX)), 'float32'), [0]), 0);
  return ops.where(any, ops.crossEntropy(logits, targets, IGNORE_INDEX), 0);
}

/**
 * The targets of a spliced batch's labels [B, S] (Hugging Face's shift: position t predicts labels[t + 1]): every
 * position whose next label counts, with that label. A batch without one gets a single ignored target.
 *
 * `lead` weights the first lead[b] targets of row b (in order) `lead.weight` times: such a target is listed that
 * many times, so the mean cross-entropy becomes Σ wᵢ·ℓᵢ / Σ wᵢ (the gather's gradient adds its repeats up).
 */
export function answerTargets(labels: HostTensor, lead?: { tokens: readonly number[]; weight: number }): { positions: HostTensor; labels: HostTensor } {
  const [batch, length] = labels.shape;
  const data = labels.data as BigInt64Array;
  const positions: number[] = [];
  const targets: bigint[] = [];
  for (let b = 0; b < batch; b++) {
    let counted = 0;
    for (let t = 0; t + 1 < length; t++) {
      const next = data[b * length + t + 1];
      if (next === BigInt(IGNORE_INDEX)) continue;
      const repeats = lead && counted < (lead.tokens[b] ?? 0) ? lead.weight : 1;
      for (let r = 0; r < repeats; r++) {
        positions.push(b * length + t);
        targets.push(next);
      }
      counted++;
    }
  }
  if (positions.length === 0) return { positions: i64([1], [0]), labels: i64([1], [IGNORE_INDEX]) };
  return { positions: i64([positions.length], positions), labels: i64([targets.length], targets) };
}
