// Label heads: each task's label read off the face's pooled encoder features — linearly, or through one hidden
// layer — beside the decoder.
//
//   φ̄ = the encoder's tokens [N, C] averaged over the grid (and over the mirror and a video's frames where the
//       model reads those): the features the projector reads, pooled
//   expression, real/fake: p_head(c | φ̄) = softmax(Wᵀφ̄ + b)_c          one class of K
//   age:                   p_head(n | φ̄) = softmax(Wᵀφ̄ + b)_n          one of the K ages it was fitted on
//   attributes, AUs:       p_head(j | φ̄) = σ(w_jᵀφ̄ + b_j)              K yes/no labels
//   with a hidden layer:   φ̄ ← relu(W₁ᵀφ̄ + b₁) first (`hidden`: its width H; train/hidden-head.ts)
//
// Why: the decoder learns the label from answers of thirty-odd tokens, of which the label is a handful, and reads
// the frozen features less well than a linear reader fitted to the labels alone (model card, *Label heads*). The
// task's decision rule (pipeline/label-guides.ts) pools the two with a log-linear weight w (`label_heads.weight`):
//
//   classes:     log p(c) = (1 − w)·log p_dec(c) + w·log p_head(c) + const
//   ages:        the same over the ages, then the median of p (the age rule's)
//   list items:  logit p(j) = (1 − w)·logit p_dec(j) + w·logit p_head(j)
//
// and the decoder writes the rest of its answer — the reasoning — after the label the rule chose. w = 0 is the
// decoder alone; w = 1 the heads alone; a head may carry its own w. A list item is stated when its pooled p passes
// ½, or the head's own threshold for that label (AUs, scored by F1: `thresholds`). Heads are fitted by `face-llava heads` (train/label-heads.ts)
// on standardized features; the standardization is folded into W and b before they are saved:
//   W' = W / σ (row by row),  b' = b − Σ_i W_i·μ_i / σ_i.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { f32, type HostTensor } from '../graph/host.js';
import { openSafetensors, writeSafetensors } from '../graph/safetensors.js';

/** The file of a model directory that holds the heads' weights (`<task>.weight` [C, K], `<task>.bias` [K]). */
export const LABEL_HEADS_FILE = 'label_heads.safetensors';

/** The tasks a head can serve: a class (an age is one of the ages), or a list of yes/no labels. */
export const HEAD_TASKS = ['expression', 'au', 'attributes', 'deepfake', 'age'] as const;
export type HeadTask = (typeof HEAD_TASKS)[number];
export const isHeadTask = (task: string): task is HeadTask => (HEAD_TASKS as readonly string[]).includes(task);

export const LabelHeadSpecSchema = z.object({
  /** softmax: one class of `labels`; sigmoid: each of `labels` present or not. */
  kind: z.enum(['softmax', 'sigmoid']),
  /** The outputs in order: expression names, CelebA attribute columns, AU numbers (as text), real and fake. */
  labels: z.array(z.string().min(1)).min(1),
  /**
   * sigmoid heads of labels scored by F1 (AUs): the pooled probability each label needs to be stated, per label.
   * F1, unlike accuracy, is best served below ½: for calibrated probabilities its optimal threshold is half the
   * best F1 attainable (Lipton, Elkan & Naryanaswamy 2014), estimated on the fit's held-out fold. Absent: ½.
   */
  thresholds: z.array(z.number().gt(0).lt(1)).optional(),
  /** This head's share w of the pooled decision, over `label_heads.weight`. */
  weight: z.number().min(0).max(1).optional(),
  /** The width H of a hidden ReLU layer before the output (`<task>.hidden.weight` [C, H], `<task>.hidden.bias`). */
  hidden: z.number().int().positive().optional(),
});

/** config.json's `label_heads`. */
export const LabelHeadsConfigSchema = z.object({
  /** The heads' share w of the pooled decision, in [0, 1] (see the header). */
  weight: z.number().min(0).max(1).default(0.5),
  heads: z.partialRecord(z.enum(HEAD_TASKS), LabelHeadSpecSchema),
});
export type LabelHeadSpec = z.output<typeof LabelHeadSpecSchema>;
export type LabelHeadsConfig = z.output<typeof LabelHeadsConfigSchema>;

/** One head: the spec and its folded weights. */
export interface LabelHead extends LabelHeadSpec {
  /** W [C, K] row-major (stored as `<task>.weight`); [H, K] after a hidden layer. */
  readonly matrix: Float32Array;
  /** [K] */
  readonly bias: Float32Array;
  /** W₁ [C, H] and b₁ [H] of the hidden layer, where `hidden` is set. */
  readonly hiddenLayer?: { readonly matrix: Float32Array; readonly bias: Float32Array };
}

export class LabelHeads {
  constructor(
    /** The heads' share w of the pooled decision. */
    readonly weight: number,
    readonly width: number,
    private readonly heads: ReadonlyMap<HeadTask, LabelHead>,
  ) {}

  /** The heads of a model directory, or undefined when its config has none; `width` is the encoder's C. */
  static load(dir: string, config: LabelHeadsConfig | undefined, width: number): LabelHeads | undefined {
    if (!config) return undefined;
    const path = join(dir, LABEL_HEADS_FILE);
    if (!existsSync(path)) throw new Error(`config.json has label_heads, but ${path} is missing`);
    const file = openSafetensors(path);
    const heads = new Map<HeadTask, LabelHead>();
    for (const [task, spec] of Object.entries(config.heads) as [HeadTask, LabelHeadSpec][]) {
      const k = spec.labels.length;
      if (spec.thresholds && spec.thresholds.length !== k) throw new Error(`config.json: label_heads.heads.${task} has ${spec.thresholds.length} thresholds for ${k} labels`);
      const layer = (name: string, rows: number, cols: number, what: string) => {
        const weight = file.load(`${name}.weight`, { toFloat32: true });
        const bias = file.load(`${name}.bias`, { toFloat32: true });
        if (weight.shape.join(',') !== `${rows},${cols}` || bias.shape.join(',') !== `${cols}`) {
          throw new Error(`${path}: the ${name.replace('.', ' ')} head is [${weight.shape.join(', ')}] + [${bias.shape.join(', ')}], want [${rows}, ${cols}] + [${cols}] (${what})`);
        }
        return { matrix: weight.data as Float32Array, bias: bias.data as Float32Array };
      };
      const hiddenLayer = spec.hidden ? layer(`${task}.hidden`, width, spec.hidden, `the encoder's ${width} channels, ${spec.hidden} hidden units`) : undefined;
      const into = spec.hidden ?? width;
      const output = layer(task, into, k, spec.hidden ? `${spec.hidden} hidden units, ${k} labels` : `the encoder's ${width} channels, ${k} labels`);
      heads.set(task, { ...spec, ...output, ...(hiddenLayer && { hiddenLayer }) });
    }
    return new LabelHeads(config.weight, width, heads);
  }

  get tasks(): HeadTask[] {
    return [...this.heads.keys()];
  }

  /** The heads by task. */
  entries(): [HeadTask, LabelHead][] {
    return [...this.heads];
  }

  head(task: string): LabelHead | undefined {
    return isHeadTask(task) ? this.heads.get(task) : undefined;
  }

  /** The head's probabilities for pooled features φ̄ [C] (see the header), or undefined when `task` has none. */
  probabilities(task: string, pooled: Float32Array): Float64Array | undefined {
    const head = this.head(task);
    if (!head) return undefined;
    if (pooled.length !== this.width) throw new Error(`label heads: pooled features of ${pooled.length} channels, want ${this.width}`);
    return headProbabilities(head, pooled);
  }
}

/** Fitted heads as a model directory stores them: config.json's `label_heads` and the weights' file. */
export interface LabelHeadSet {
  /** The heads' share w of the pooled decision. */
  readonly weight: number;
  readonly heads: ReadonlyMap<HeadTask, LabelHead>;
}

/** config.json's `label_heads` for a set of heads. */
export function labelHeadsConfig(set: LabelHeadSet): LabelHeadsConfig {
  const heads: LabelHeadsConfig['heads'] = {};
  for (const [task, head] of set.heads) {
    heads[task] = {
      kind: head.kind,
      labels: [...head.labels],
      ...(head.thresholds && { thresholds: [...head.thresholds] }),
      ...(head.weight !== undefined && { weight: head.weight }),
      ...(head.hiddenLayer && { hidden: head.hiddenLayer.bias.length }),
    };
  }
  return { weight: set.weight, heads };
}

/** Writes the heads' weights into the model directory `dir` (LABEL_HEADS_FILE). */
export function writeLabelHeads(dir: string, set: LabelHeadSet): void {
  const tensors = new Map<string, HostTensor>();
  for (const [task, head] of set.heads) {
    const k = head.labels.length;
    tensors.set(`${task}.weight`, f32([head.matrix.length / k, k], head.matrix));
    tensors.set(`${task}.bias`, f32([k], head.bias));
    if (head.hiddenLayer) {
      const h = head.hiddenLayer.bias.length;
      tensors.set(`${task}.hidden.weight`, f32([head.hiddenLayer.matrix.length / h, h], head.hiddenLayer.matrix));
      tensors.set(`${task}.hidden.bias`, f32([h], head.hiddenLayer.bias));
    }
  }
  // Written aside and renamed: a reader finds the old file or the new one.
  const path = join(dir, LABEL_HEADS_FILE);
  const staging = `${path}.tmp-${process.pid}`;
  writeSafetensors(staging, tensors, { format: 'pt' });
  renameSync(staging, path);
}

/** Wᵀx + b for x [C] and W [C, K] row-major. */
function affine(x: ArrayLike<number>, matrix: Float32Array, bias: Float32Array): Float64Array {
  const k = bias.length;
  const z = Float64Array.from(bias);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v === 0) continue;
    for (let c = 0; c < k; c++) z[c] += v * matrix[i * k + c];
  }
  return z;
}

/** p_head for pooled features [C]: softmax or sigmoids of Wᵀφ̄ + b, after the hidden layer where there is one. */
export function headProbabilities(head: LabelHead, pooled: Float32Array): Float64Array {
  const input = head.hiddenLayer ? affine(pooled, head.hiddenLayer.matrix, head.hiddenLayer.bias).map((v) => Math.max(0, v)) : pooled;
  const z = affine(input, head.matrix, head.bias);
  if (head.kind === 'sigmoid') return z.map((v) => 1 / (1 + Math.exp(-v)));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** Pooled features [C]: rows [R, C] (one per encoded frame and mirror image) averaged. */
export function meanRows(rows: HostTensor): Float32Array {
  if (rows.shape.length !== 2) throw new Error(`meanRows: want [R, C], got [${rows.shape.join(', ')}]`);
  const [r, c] = rows.shape;
  const data = rows.data as Float32Array;
  const out = new Float32Array(c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j] += data[i * c + j] / r;
  return out;
}
