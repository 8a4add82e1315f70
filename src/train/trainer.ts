// `face-llava train`: the paper's training recipe (SPEC §3, stages.ts) on FaceInstruct JSONL.
//
// Before the first update, the frozen encoder runs once over every crop and its tokens are cached (features.ts).
// Each stage then builds the graph after the encoder (graph.ts), freezes the modules the stage does not train, and
// runs AdamW updates (graph/trainer-step.ts: one onnxruntime run per micro-batch) over the seeded, length-bucketed
// data order (batches.ts), with the cosine schedule and 3 % warm-up. Every `checkpointEvery` updates the state is
// checkpointed (checkpoint.ts); a killed run continues from there to the same weights and the same log.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type HostTensor, numel } from '../graph/host.js';
import { cosineLr, type CosineSchedule } from '../graph/optim.js';
import { openCheckpoint } from '../graph/safetensors.js';
import { compile } from '../graph/session.js';
import { createTrainStep, type TrainStep } from '../graph/trainer-step.js';
import { loadWeights, type WeightSource } from '../model/checkpoint.js';
import { parseFaceLlavaConfig } from '../model/config.js';
import { IO } from '../model/face-llava.js';
import {
  CONFIG_FILE_NAME,
  type EncoderResolver,
  type ModelDirConfig,
  type ModelDirConfigInput,
  modelParams,
  parseModelDirConfig,
  type ResolvedEncoder,
  savePretrained,
} from '../model/pretrained.js';
import { llamaTokenizer } from '../text/tokenizer.js';
import { epochSteps, stepsPerEpoch } from './batches.js';
import { lossChart } from './chart.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { collate } from './collate.js';
import { type Example, listJsonl, loadExamples } from './data.js';
import { encoderExtractor } from './extractor.js';
import { FeatureStore } from './features.js';
import { buildTrainingGraph } from './graph.js';
import { initialWeight } from './init.js';
import { type StepEntry, TrainLog, type ValEntry } from './log.js';
import { claimRunFolder, filesSha256, RUN_FORMAT, runPaths, type RunSettings } from './run-folder.js';
import { moduleOf, OPTIMIZER, type Stage, type StageName, STAGES, WARMUP_FRACTION } from './stages.js';

export interface TrainOptions {
  /** FaceInstruct JSONL files or folders of shards; records of split `train` (or none) are trained on. */
  data: readonly string[];
  /** The run folder (see run-folder.ts). */
  out: string;
  stages: readonly StageName[];
  /** A model directory to start from: its config and weights. */
  init?: string;
  /** Without `init`: the model directory config to train from scratch (`tasks` may be left to the data). */
  config?: ModelDirConfigInput | Omit<ModelDirConfigInput, 'tasks'>;
  /** Builds an `npm` vision encoder (see model/pretrained.ts). */
  resolveEncoder?: EncoderResolver;
  /** Epochs per stage (default 1, as the paper). */
  epochs?: number;
  /** Examples per micro-batch (default 8) and micro-batches per update (default 1). */
  batch?: number;
  accum?: number;
  /** Peak learning rate of every stage (default each stage's own, see stages.ts). */
  lr?: number;
  /** At most this many updates per stage (the schedule is fitted to them). */
  maxSteps?: number;
  /** Updates between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Continue the run in `out` (a folder without a run starts one). */
  resume?: boolean;
  /** Seeds the data order and the initial values of weights trained from scratch (default 0). */
  seed?: number;
  /** Validation JSONL (records of split `val`, or none), scored every `valEvery` updates and at each stage's end. */
  val?: readonly string[];
  valEvery?: number;
  /** Where encoder features are cached (default `<out>/cache`). */
  cache?: string;
  /** onnxruntime intra-op threads (default all cores). */
  threads?: number;
  /** Stops at the end of the current update, after a checkpoint. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | { type: 'info'; message: string }
  | { type: 'encode'; done: number; total: number }
  | { type: 'stage'; index: number; count: number; stage: Stage; steps: number; from: number; examples: number; trainableParams: number }
  | { type: 'step'; entry: StepEntry; steps: number; secondsLeft: number }
  | { type: 'val'; entry: ValEntry }
  | { type: 'checkpoint'; stage: string; step: number };

export interface TrainResult {
  /** The trained model directory; null when the run was interrupted. */
  model: string | null;
  interrupted: boolean;
}

/** What every stage shares. */
interface Run {
  o: TrainOptions;
  out: string;
  paths: ReturnType<typeof runPaths>;
  config: ModelDirConfig;
  encoder?: ResolvedEncoder;
  examples: Example[];
  valExamples: Example[];
  store: FeatureStore;
  log: TrainLog;
  batch: number;
  accum: number;
  seed: number;
  /** Updates per stage. */
  total: number;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const out = resolve(o.out);
  const paths = runPaths(out);
  const emit = (event: TrainEvent) => o.onEvent?.(event);
  const batch = o.batch ?? 8;
  const accum = o.accum ?? 1;
  const epochs = o.epochs ?? 1;
  const seed = o.seed ?? 0;
  for (const [name, v] of Object.entries({ batch, accum, epochs, checkpointEvery: o.checkpointEvery ?? 1, maxSteps: o.maxSteps ?? 1, valEvery: o.valEvery ?? 1 })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number ≥ 1, got ${v}`);
  }
  if (o.stages.length === 0) throw new Error('no stage to run');
  if (!o.init && o.stages[0] !== 'pretrain') throw new Error(`stage ${o.stages[0]} trains on top of a model: give --init <model dir>, or start with --stage pretrain`);

  const dataFiles = await listJsonl(o.data);
  const valFiles = o.val?.length ? await listJsonl(o.val) : [];
  const tokenizer = llamaTokenizer();
  if (!o.init && !o.config) throw new Error('a run from scratch needs a model config');
  const initSource = o.init ? openCheckpoint(resolve(o.init)) : undefined;
  const base = o.init ? (JSON.parse(await readFile(join(resolve(o.init), CONFIG_FILE_NAME), 'utf8')) as Record<string, unknown>) : { ...o.config };
  const faceLlava = parseFaceLlavaConfig(base.face_llava);
  const loaded = await loadExamples(dataFiles, { tokenizer, config: faceLlava, split: 'train' });
  const val = await loadExamples(valFiles, { tokenizer, config: faceLlava, split: 'val' });
  if (loaded.examples.length === 0) throw new Error(`no training examples in ${o.data.join(', ')}`);
  const tasks = [...new Set([...((base.tasks as string[] | undefined) ?? []), ...loaded.tasks])].sort();
  const config = parseModelDirConfig({ ...base, tasks });
  for (const [reason, n] of Object.entries(loaded.skipped)) emit({ type: 'info', message: `skipped ${n} training record(s): ${reason}` });

  await mkdir(out, { recursive: true });
  const settings: RunSettings = {
    format: RUN_FORMAT,
    data: dataFiles,
    data_sha256: await filesSha256(dataFiles),
    val: valFiles,
    val_sha256: valFiles.length ? await filesSha256(valFiles) : null,
    stages: [...o.stages],
    init: o.init ? resolve(o.init) : null,
    config,
    epochs,
    batch,
    accum,
    lr: o.lr ?? null,
    max_steps: o.maxSteps ?? null,
    seed,
    val_every: o.valEvery ?? null,
  };
  await claimRunFolder(out, settings, o.resume ?? false);
  const checkpoint = o.resume ? loadCheckpoint(out) : null;
  if (checkpoint && checkpoint.position.stage >= o.stages.length) {
    emit({ type: 'info', message: `${out} has finished training; the model is in ${paths.model}` });
    return { model: paths.model, interrupted: false };
  }

  const encoder = config.encoder.kind === 'npm' ? await resolveNpmEncoder(config, o.resolveEncoder) : undefined;
  const store = await cacheFeatures([...loaded.examples, ...val.examples], { config, encoder, weights: initSource, cache: o.cache ?? paths.cache, threads: o.threads, emit });
  const log = TrainLog.open(paths.log, checkpoint?.position.logBytes ?? 0);
  const total = Math.min(epochs * stepsPerEpoch(loaded.examples.length, { batch, accum }), o.maxSteps ?? Infinity);
  const run: Run = { o, out, paths, config, encoder, examples: loaded.examples, valExamples: val.examples, store, log, batch, accum, seed, total };
  try {
    for (let k = checkpoint?.position.stage ?? 0; k < o.stages.length; k++) {
      const source = k === 0 ? initSource : openCheckpoint(paths.stage(o.stages[k - 1]));
      // A checkpoint at update 0 of a stage only records that the stages before it are done.
      const resumeFrom = checkpoint?.position.stage === k && checkpoint.position.step > 0 ? checkpoint : undefined;
      const weights = await runStage(run, k, source, resumeFrom);
      if (!weights) return { model: null, interrupted: true };
      const last = k === o.stages.length - 1;
      await saveModel(run, last ? paths.model : paths.stage(o.stages[k]), weights, k, source);
      saveCheckpoint(out, { position: position(run, k + 1, 0), state: { step: 0, params: {}, m: {}, v: {} } });
    }
  } finally {
    await writeChart(run);
    log.close();
  }
  return { model: paths.model, interrupted: false };
}

async function resolveNpmEncoder(config: ModelDirConfig, resolver: EncoderResolver | undefined): Promise<ResolvedEncoder> {
  if (config.encoder.kind !== 'npm') throw new Error('not an npm encoder');
  if (!resolver) throw new Error(`the model's encoder is ${config.encoder.package}/${config.encoder.model}, and no resolver for npm encoders was given`);
  return resolver(config.encoder);
}

/** Runs the frozen encoder over every crop that has no cached features yet. */
async function cacheFeatures(
  examples: readonly Example[],
  o: { config: ModelDirConfig; encoder?: ResolvedEncoder; weights?: WeightSource; cache: string; threads?: number; emit: (e: TrainEvent) => void },
): Promise<FeatureStore> {
  const extractor = await encoderExtractor(o.config, { encoder: o.encoder, weights: o.weights, threads: o.threads });
  try {
    const store = await FeatureStore.open(o.cache, extractor);
    await store.ensure(
      examples.flatMap((e) => e.frames),
      (done, total) => o.emit({ type: 'encode', done, total }),
    );
    return store;
  } finally {
    await extractor.release();
  }
}

function position(run: Run, stage: number, step: number): Checkpoint['position'] {
  const spe = stepsPerEpoch(run.examples.length, run);
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
async function runStage(run: Run, k: number, source: WeightSource | undefined, checkpoint?: Checkpoint): Promise<Map<string, HostTensor> | null> {
  const { o, total } = run;
  const stage = STAGES[o.stages[k]];
  const cfg = run.config.face_llava;
  const { graph, loss } = buildTrainingGraph(cfg);
  const trains = new Set(stage.trains);
  const frozen = graph.params.filter((p) => !trains.has(moduleOf(p.name)));
  const shapes = new Map(graph.params.map((p) => [p.name, p.shape as number[]]));
  const specs = graph.params.map((p) => ({ name: p.name, dtype: p.dtype, shape: shapes.get(p.name)! }));
  const given = source ? loadWeights(specs, source, { strict: false }).weights : new Map<string, HostTensor>();
  for (const p of frozen) {
    if (!given.has(p.name)) throw new Error(`stage ${stage.name} keeps ${moduleOf(p.name)} frozen, but ${p.name} is not in the starting model; train it first (--stage pretrain)`);
  }
  const schedule: CosineSchedule = { peakLr: o.lr ?? stage.lr, warmupSteps: Math.ceil(WARMUP_FRACTION * total), totalSteps: total };
  const step = await createTrainStep(graph, {
    loss,
    weights: (name) => given.get(name) ?? initialWeight(name, shapes.get(name)!, run.seed),
    groups: frozen.length ? [{ params: frozen, frozen: true }] : [],
    optimizer: OPTIMIZER,
    lr: (s) => cosineLr(schedule, s),
    threads: o.threads,
  });
  try {
    if (checkpoint) step.loadState(checkpoint.state);
    const trainableParams = graph.params.filter((p) => trains.has(moduleOf(p.name))).reduce((n, p) => n + numel(shapes.get(p.name)!), 0);
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

async function loop(run: Run, k: number, step: TrainStep, validate?: Validate): Promise<boolean> {
  const { o, total, log } = run;
  const stage = o.stages[k];
  const spe = stepsPerEpoch(run.examples.length, run);
  const lengths = run.examples.map((e) => e.length);
  const every = o.checkpointEvery ?? 100;
  let plan = { epoch: -1, steps: [] as number[][][] };
  const started = performance.now();
  const from = step.stepCount;
  let tokens = 0;
  const score = async (s: number) => {
    const entry: ValEntry = { type: 'val', stage, step: s, global_step: k * total + s, ...(await validate!(step)) };
    log.append(entry);
    o.onEvent?.({ type: 'val', entry });
  };
  for (let s = from; s < total; s++) {
    const epoch = Math.floor(s / spe);
    if (plan.epoch !== epoch) plan = { epoch, steps: epochSteps(lengths, epoch, run) };
    const micro = await Promise.all(plan.steps[s % spe].map((ids) => collate(ids.map((i) => run.examples[i]), run.config.face_llava, run.store)));
    const result = await step.step(micro.map((m) => m.feeds));
    const stepTokens = micro.reduce((n, m) => n + m.tokens, 0);
    tokens += stepTokens;
    const elapsed = (performance.now() - started) / 1000;
    const done = s + 1;
    const entry: StepEntry = {
      type: 'step',
      stage,
      step: done,
      global_step: k * total + done,
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
    if (validate && o.valEvery && done % o.valEvery === 0 && done < total) await score(done);
    const stopping = o.signal?.aborted ?? false;
    if ((done % every === 0 && done < total) || (stopping && done < total)) {
      saveCheckpoint(run.out, { position: position(run, k, done), state: step.state() });
      await writeChart(run);
      o.onEvent?.({ type: 'checkpoint', stage, step: done });
    }
    if (stopping && done < total) return false;
  }
  if (validate && total > from) await score(total);
  return true;
}

type Validate = (step: TrainStep) => Promise<{ val_loss: number; answer_tokens: number }>;

/** The validation loss: answer-token cross-entropy over all validation examples, with the step's current weights. */
async function validator(run: Run): Promise<{ score: Validate; release: () => Promise<void> }> {
  const { graph } = buildTrainingGraph(run.config.face_llava);
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

/** A model directory holding the stage's weights, plus the weights the graph after the encoder never read. */
async function saveModel(run: Run, dir: string, trained: Map<string, HostTensor>, k: number, source: WeightSource | undefined): Promise<void> {
  const own = new Set(run.encoder?.weights?.tensors.keys());
  const names = modelParams(run.config.face_llava, run.encoder?.network).filter((p) => !own.has(p.name) && !trained.has(p.name));
  const rest = source ? loadWeights(names, source, { strict: false }).weights : new Map<string, HostTensor>();
  const training = { run: run.out, stages: run.o.stages.slice(0, k + 1), updates_per_stage: run.total, examples: run.examples.length };
  await savePretrained(dir, { config: { ...run.config, training }, weights: new Map([...rest, ...trained]), encoder: run.encoder });
}

async function writeChart(run: Run): Promise<void> {
  const tmp = `${run.paths.chart}.tmp`;
  await writeFile(tmp, lossChart(run.log.entries, `Face-LLaVA training — ${run.o.stages.map((s) => `stage ${s}`).join(', ')}`));
  await rename(tmp, run.paths.chart);
}

function copy(t: HostTensor): HostTensor {
  return { dtype: t.dtype, shape: t.shape, data: t.data.slice() };
}
