// The training recipe (SPEC §3): which modules each stage trains and at what peak learning rate. The vision
// encoder is frozen in every stage — its features are computed once and cached (features.ts) — so the modules
// here are those after it.
//
//   stage 1  face-region pre-training   FRLP + FRGCA                          lr 1e-4
//   stage 2  fine-tuning                FRLP + FRGCA + projector + LLM        lr 2e-5
//
// Both stages: AdamW, cosine schedule with 3 % linear warm-up, next-token loss on the answer tokens only, one
// epoch. The paper starts from Video-LLaVA, whose projector and Vicuna decoder are already trained; a decoder
// trained here from nothing has no such start, so `pretrain` trains projector, decoder, FRLP and FRGCA together
// from scratch at a higher rate before the paper's two stages (this project's addition, not the paper's).
//
// An npm encoder split by `train_from` (vision/npm-encoder.ts) adds module `encoder`: its tail, trained wherever
// the projector is (pretrain and stage 2), also this project's addition.

/** The parts of the model after the frozen encoder (or its frozen prefix); no stage trains `statistics`. */
export type Module = 'encoder' | 'statistics' | 'landmarks' | 'projector' | 'decoder';

export type StageName = 'pretrain' | '1' | '2';

export interface Stage {
  readonly name: StageName;
  readonly title: string;
  readonly trains: readonly Module[];
  /** Peak learning rate of the cosine schedule. */
  readonly lr: number;
}

export const STAGES: Readonly<Record<StageName, Stage>> = {
  pretrain: { name: 'pretrain', title: 'pre-training from scratch', trains: ['encoder', 'landmarks', 'projector', 'decoder'], lr: 1e-3 },
  '1': { name: '1', title: 'face-region pre-training', trains: ['landmarks'], lr: 1e-4 },
  '2': { name: '2', title: 'fine-tuning', trains: ['encoder', 'landmarks', 'projector', 'decoder'], lr: 2e-5 },
};

/**
 * The split encoder's tail learns at this share of the stage's rate: it starts trained (the package's weights), and
 * at the from-scratch rate of `pretrain` it is wrecked before the decoder can use it — a 1,500-update FER2013
 * pilot fell from 0.342 accuracy (encoder frozen) to 0.232 with the tail at the full 1e-3 — and to 0.228 at this
 * tenth. Started after a frozen phase instead (1,000 stage-2 updates at lr 3e-4 from that frozen pilot), the tail at
 * this tenth no longer collapses but gains nothing (WAR 0.378 vs 0.404 frozen, n 500): the default is a starting
 * point, not a finding.
 */
export const ENCODER_LR_SCALE = 0.1;

/** Share of a stage's updates spent on the linear warm-up. */
export const WARMUP_FRACTION = 0.03;

/**
 * AdamW settings of LLaVA's training scripts (Hugging Face Trainer): no weight decay, gradients clipped to a
 * global norm of 1, PyTorch's betas and epsilon.
 */
export const OPTIMIZER = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 } as const;

/**
 * `1`, `2`, `pretrain`, `both` (= 1 then 2), or a comma-separated sequence of them (`pretrain,1,2`): the stages
 * to run, in order.
 */
export function parseStages(spec: string): StageName[] {
  const names = spec.split(',').flatMap((part): string[] => (part.trim() === 'both' ? ['1', '2'] : [part.trim()]));
  if (names.length === 0 || names.some((n) => !(n in STAGES))) {
    throw new Error(`unknown stage "${spec}": use 1, 2, both, pretrain or a comma-separated sequence of them`);
  }
  return names as StageName[];
}

/** The module a weight of the model (checkpoint name) belongs to; `encoderTail` names the split encoder's tail weights. */
export function moduleOf(param: string, encoderTail?: ReadonlySet<string>): Module {
  if (encoderTail?.has(param)) return 'encoder';
  if (param.startsWith('model.token_norm.')) return 'statistics';
  if (/^model\.(landmarks_projector|global_landmarks_projector|landmarks_cross_attn)\./.test(param)) return 'landmarks';
  if (param.startsWith('model.mm_projector.')) return 'projector';
  return 'decoder';
}
