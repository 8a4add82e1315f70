// The graph a training step runs. The encoder is frozen in every stage, so its tokens are computed once per
// crop and cached (features.ts); the graph starts after it:
//
//   encoder tokens [F, N, C] ──► projector ──► FRGCA(·, FRLP(landmarks), landmarks) ──► splice ──► decoder ──► loss
//
// The same model code as inference (model/face-llava.ts) builds it, with the encoder replaced by the identity.
import { Graph, type Tensor } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { type FaceLlavaConfig, visionGrid, visionWidth } from '../model/config.js';
import { IO, spliceEmbeddings, usesLandmarks, visualTokens, visualTokensPerFrame } from '../model/face-llava.js';
import { causalLmLoss, decoderForward, embedTokens, IGNORE_INDEX } from '../model/llama.js';
import { NUM_LANDMARKS } from '../model/regions.js';
import type { VisualEncoder } from '../model/vision/encoder.js';

/** The input that takes cached encoder tokens in place of pixels. */
export const ENCODER_TOKENS = 'encoder_tokens';

export interface TrainingGraph {
  graph: Graph;
  /** Mean next-token cross-entropy over the answer tokens of the batch; 0 when the batch has none. */
  loss: Tensor;
}

/**
 * Inputs encoder_tokens [F, N, C], landmarks [F, 68, 2] (when the model has a landmark branch), input_ids,
 * splice_rows, attention_mask and labels as spliceLayout gives them; output `loss`.
 */
export function buildTrainingGraph(cfg: FaceLlavaConfig): TrainingGraph {
  const g = new Graph('face_llava_train');
  const n = visualTokensPerFrame(cfg);
  const width = visionWidth(cfg.vision);
  const tokens = g.input(ENCODER_TOKENS, 'float32', ['frames', n, width]);
  const landmarks = usesLandmarks(cfg) ? g.input(IO.landmarks, 'float32', ['frames', NUM_LANDMARKS, 2]) : undefined;
  const cached: VisualEncoder = { frameShape: [n, width], width, grid: visionGrid(cfg.vision), unusedParams: [], encode: (t) => t };
  const visual = visualTokens(cfg, cached, tokens, landmarks);

  const textIds = g.input(IO.textIds, 'int64', ['batch', 'text']);
  const rows = g.input(IO.rows, 'int64', ['batch', 'seq']);
  const attentionMask = g.input(IO.attentionMask, 'int64', ['batch', 'seq']);
  const labels = g.input(IO.labels, 'int64', ['batch', 'seq']);
  const logits = decoderForward(g, cfg.llm, spliceEmbeddings(embedTokens(g, cfg.llm, textIds), visual, rows), { attentionMask });
  const loss = answerLoss(logits, labels);
  g.output(IO.loss, loss);
  return { graph: g, loss };
}

/**
 * causalLmLoss, except that a batch without a single answer token (every target IGNORE_INDEX: an answer cut off by
 * truncation, a conversation LLaVA's masking rejects) gives 0 instead of 0/0 = NaN. Its gradient is zero either
 * way (the cross-entropy's backward divides by max(count, 1)); the guard keeps the logged loss a number.
 */
function answerLoss(logits: Tensor, labels: Tensor): Tensor {
  const targets = ops.slice(labels, [1], [1], [Infinity]);
  const any = ops.greater(ops.sum(ops.cast(ops.not(ops.equal(targets, IGNORE_INDEX)), 'float32'), [0, 1]), 0);
  return ops.where(any, causalLmLoss(logits, labels), 0);
}
