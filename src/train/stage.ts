// One stage of a run: the graph after the encoder with the stage's modules trainable and the rest frozen, AdamW
// with the cosine schedule over the seeded data order, a log line per update, validation and checkpoints on
// their schedule.
import { writeFileAtomic } from '../util/atomic-write.js';
import { seededRandom } from '../util/random.js';
import { type HostTensor, numel } from '../graph/host.js';
import { cosineLr, type CosineSchedule } from '../graph/optim.js';
import { compile } from '../graph/session.js';
import { createTrainStep, type TrainStep } from '../graph/trainer-step.js';
import { loadWeights, type WeightSource } from '../model/checkpoint.js';
import { IO } from '../model/face-llava.js';
import type { ModelDirConfig, ResolvedEncoder } from '../model/pretrained.js';
import { epochSteps, stepsPerEpoch } from './batches.js';
import { lossChart } from './chart.js';
import { type Checkpoint, saveCheckpoint } from './checkpoint.js';
import { collate } from './collate.js';
import type { Example } from './data.js';
import type { FeatureStore } from './features.js';
import { buildTrainingGraph } from './graph.js';
import { initialWeight } from './init.js';
import { epochPool, type MixOptions } from './mixing.js';
import type { StepEntry, TrainLog, ValEntry } from './log.js';
import type { runPaths } from './run-folder.js';
import { ENCODER_LR_SCALE, moduleOf, OPTIMIZER, STAGES, WARMUP_FRACTION } from './stages.js';
import type { TrainOptions } from './trainer.js';

/** Feature dropout's random streams start here, clear of the data order's (epoch) and the mixing's (0x10000 + …). */
const DROPOUT_STREAM = 0x2000_0000;
/** The mirrored views' streams, clear of feature dropout's (updates × 1024 stay below 0x2000_0000 up to 524,288 updates). */
const MIRROR_STREAM = 0x4000_0000;

/** What every stage shares. */
export interface Run {
  o: TrainOptions;
  out: string;
  paths: ReturnType<typeof runPaths>;
  config: ModelDirConfig;
  encoder?: ResolvedEncoder;
  examples: Example[];
  /** The --data source of each example, and the mixing limits that make an epoch of them (mixing.ts). */
  sources: number[];
  mix: MixOptions;
  /** Examples in one epoch after mixing. */
  epochExamples: number;
  valExamples: Example[];
  store: FeatureStore;
  /** The training crops' mirrored view, with --mirror-views. */
  mirrorStore?: FeatureStore;
  /** The token statistics measured for a model from scratch with `standardize_tokens` (trainer.ts). */
  tokenStats?: ReadonlyMap<string, HostTensor>;
  log: TrainLog;
  batch: number;
  accum: number;
  seed: number;
  /** Updates per stage. */
  total: number;
}

export function position(run: Run, stage: number, step: number): Checkpoint['position'] {
  const spe = stepsPerEpoch(run.epochExamples, run);
  return {
    stage,
    stageName: run.o.stages[stage] ?? 'done',
    step,
    epoch: Math.floor(step / spe),
    stepInEpoch: step % spe,
    seed: run.seed,
    logBytes: run.log.durableLength(),
  };
}

/**
 * Trains stage k from `source` (or from the checkpoint) to its last update. Returns every weight of the graph
 * after the stage, or null when stopped by the signal (a checkpoint is written first).
 */
export async function runStage(run: Run, k: number, source: WeightSource | undefined, checkpoint?: Checkpoint): Promise<Map<string, HostTensor> | null> {
  const { o, total } = run;
  const stage = STAGES[o.stages[k]];
  const cfg = run.config.face_llava;
  const split = run.encoder?.split;
  const { graph, loss } = buildTrainingGraph(cfg, split);
  const trains = new Set(stage.trains);
  const tail = new Set(split?.initial.keys());
  const trained = (name: string) => trains.has(moduleOf(name, tail));
  const frozen = graph.params.filter((p) => !trained(p.name));
  const tailTrained = graph.params.filter((p) => tail.has(p.name) && trained(p.name));
  const shapes = new Map(graph.params.map((p) => [p.name, p.shape as number[]]));
  const specs = graph.params.map((p) => ({ name: p.name, dtype: p.dtype, shape: shapes.get(p.name)! }));
  // A split encoder's tail starts where its package leaves it, unless the starting model trained it already.
  const given = new Map([...(split?.initial ?? []), ...(run.tokenStats ?? []), ...(source ? loadWeights(specs, source, { strict: false }).weights : [])]);
  for (const p of frozen) {
    if (!given.has(p.name)) throw new Error(`stage ${stage.name} keeps ${moduleOf(p.name)} frozen, but ${p.name} is not in the starting model; train it first (--stage pretrain)`);
  }
  const schedule: CosineSchedule = { peakLr: o.lr ?? stage.lr, warmupSteps: Math.ceil(WARMUP_FRACTION * total), totalSteps: total };
  const step = await createTrainStep(graph, {
    loss,
    weights: (name) => given.get(name) ?? initialWeight(name, shapes.get(name)!, run.seed),
    groups: [
      ...(frozen.length ? [{ params: frozen, frozen: true }] : []),
      ...(tailTrained.length ? [{ params: tailTrained, lrScale: o.encoderLrScale ?? ENCODER_LR_SCALE }] : []),
    ],
    optimizer: OPTIMIZER,
    lr: (s) => cosineLr(schedule, s),
    threads: o.threads,
  });
  try {
    if (checkpoint) step.loadState(checkpoint.state);
    const trainableParams = graph.params.filter((p) => trained(p.name)).reduce((n, p) => n + numel(shapes.get(p.name)!), 0);
    o.onEvent?.({ type: 'stage', index: k, count: o.stages.length, stage, steps: total, from: step.stepCount, examples: run.examples.length, trainableParams });
    const finished = await updates(run, k, step);
    return finished ? new Map(Object.entries(step.parameters()).map(([name, t]) => [name, copy(t)])) : null;
  } finally {
    await step.release();
  }
}

/** The updates of stage k from the step's count to the stage's end; false when stopped by the signal. */
async function updates(run: Run, k: number, step: TrainStep): Promise<boolean> {
  const validation = run.valExamples.length ? await validator(run) : undefined;
  try {
    return await loop(run, k, step, validation?.score);
  } finally {
    await validation?.release();
  }
}

async function loop(run: Run, k: number, step: TrainStep, validate: Validate | undefined): Promise<boolean> {
  const { o, total, log } = run;
  const stage = o.stages[k];
  const spe = stepsPerEpoch(run.epochExamples, run);
  const lengths = run.examples.map((e) => e.length);
  const every = o.checkpointEvery ?? 100;
  let plan = { epoch: -1, steps: [] as number[][][] };
  const started = performance.now();
  const from = step.stepCount;
  let tokens = 0;
  const score =
    validate &&
    (async (s: number) => {
      const entry: ValEntry = { type: 'val', stage, step: s, global_step: k * total + s, ...(await validate(step)) };
      log.append(entry);
      o.onEvent?.({ type: 'val', entry });
    });
  for (let s = from; s < total; s++) {
    const epoch = Math.floor(s / spe);
    if (plan.epoch !== epoch) plan = { epoch, steps: mixedEpochSteps(run, lengths, epoch) };
    const update = k * total + s;
    const micro = await Promise.all(
      plan.steps[s % spe].map((ids, m) =>
        collate(ids.map((i) => run.examples[i]), run.config.face_llava, run.store, {
          leadWeight: run.o.leadWeight,
          // A pure function of (seed, update, micro-batch): a resumed run drops what the uninterrupted one did.
          ...(o.featureDropout && { featureDropout: { p: o.featureDropout, random: seededRandom(run.seed, DROPOUT_STREAM + update * 1024 + m) } }),
          ...(run.mirrorStore && { mirrored: { store: run.mirrorStore, random: seededRandom(run.seed, MIRROR_STREAM + update * 1024 + m) } }),
        }),
      ),
    );
    const result = await step.step(micro.map((m) => m.feeds));
    const stepTokens = micro.reduce((n, m) => n + m.tokens, 0);
    tokens += stepTokens;
    const elapsed = (performance.now() - started) / 1000;
    const done = s + 1;
    const entry: StepEntry = {
      type: 'step',
      stage,
      step: done,
      global_step: update + 1,
      epoch,
      loss: result.loss,
      lr: result.lr,
      grad_norm: result.gradNorm,
      tokens: stepTokens,
      answer_tokens: micro.reduce((n, m) => n + m.answerTokens, 0),
      tokens_per_s: tokens / elapsed,
      elapsed_s: elapsed,
    };
    log.append(entry);
    o.onEvent?.({ type: 'step', entry, steps: total, secondsLeft: ((total - done) * elapsed) / (done - from) });
    if (score && o.valEvery && done % o.valEvery === 0 && done < total) await score(done);
    const stopping = o.signal?.aborted ?? false;
    if ((done % every === 0 && done < total) || (stopping && done < total)) {
      saveCheckpoint(run.out, { position: position(run, k, done), state: step.state() });
      await writeChart(run);
      o.onEvent?.({ type: 'checkpoint', stage, step: done });
    }
    if (stopping && done < total) return false;
  }
  if (score && total > from) await score(total);
  return true;
}

/** The epoch's steps over its mixed pool of examples, as indices into run.examples. */
function mixedEpochSteps(run: Run, lengths: readonly number[], epoch: number): number[][][] {
  const pool = epochPool(
    run.sources,
    epoch,
    run.seed,
    run.mix,
    run.examples.map((e) => e.label),
  );
  return epochSteps(
    pool.map((i) => lengths[i]),
    epoch,
    run,
  ).map((step) => step.map((micro) => micro.map((j) => pool[j])));
}

type Validate = (step: TrainStep) => Promise<{ val_loss: number; answer_tokens: number }>;

/** The validation loss: answer-token cross-entropy over all validation examples, with the step's current weights. */
async function validator(run: Run): Promise<{ score: Validate; release: () => Promise<void> }> {
  const { graph } = buildTrainingGraph(run.config.face_llava, run.encoder?.split);
  const session = await compile(graph, { params: 'inputs', outputs: [IO.loss], threads: run.o.threads, noCache: true });
  const order = [...run.valExamples].sort((a, b) => b.length - a.length);
  const score: Validate = async (step) => {
    const params = step.parameters();
    let sum = 0;
    let count = 0;
    for (let i = 0; i < order.length; i += run.batch) {
      const batch = await collate(order.slice(i, i + run.batch), run.config.face_llava, run.store);
      const loss = (await session.run({ ...params, ...batch.feeds }))[IO.loss].data[0] as number;
      sum += loss * batch.answerTokens;
      count += batch.answerTokens;
    }
    return { val_loss: sum / count, answer_tokens: count };
  };
  return { score, release: () => session.release() };
}

export async function writeChart(run: Run): Promise<void> {
  await writeFileAtomic(run.paths.chart, lossChart(run.log.entries, `Face-LLaVA training — ${run.o.stages.map((s) => `stage ${s}`).join(', ')}`));
}

function copy(t: HostTensor): HostTensor {
  return { dtype: t.dtype, shape: t.shape, data: t.data.slice() };
}
