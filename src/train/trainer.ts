// `face-llava train`: the paper's training recipe (SPEC §3, stages.ts) on FaceInstruct JSONL.
//
// Before the first update, the frozen encoder runs once over every crop and its tokens are cached (features.ts).
// Each stage (stage.ts) then builds the graph after the encoder (graph.ts), freezes the modules it does not train, and
// runs AdamW updates (graph/trainer-step.ts: one onnxruntime run per micro-batch) over the seeded, length-bucketed
// data order (batches.ts), with the cosine schedule and 3 % warm-up. Every `checkpointEvery` updates the state is
// checkpointed (checkpoint.ts); a killed run continues from there to the same weights and the same log.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { HostTensor } from '../graph/host.js';
import { openCheckpoint } from '../graph/safetensors.js';
import { loadWeights, type WeightSource } from '../model/checkpoint.js';
import { parseFaceLlavaConfig } from '../model/config.js';
import { TOKEN_NORM_MEAN, TOKEN_NORM_STD } from '../model/token-norm.js';
import { usesLandmarks } from '../model/face-llava.js';
import {
  CONFIG_FILE_NAME,
  type EncoderResolver,
  type ModelDirConfig,
  type ModelDirConfigInput,
  modelParams,
  parseModelDirConfig,
  type ResolvedEncoder,
  resolveEncoder,
  savePretrained,
} from '../model/pretrained.js';
import { llamaTokenizer } from '../text/tokenizer.js';
import { stepsPerEpoch } from './batches.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type Example, listJsonl, type LoadedData, loadExamples } from './data.js';
import { encoderExtractor } from './extractor.js';
import { FeatureStore } from './features.js';
import { checkMix, epochSize, type MixOptions, sourceCounts } from './mixing.js';
import { type StepEntry, TrainLog, type ValEntry } from './log.js';
import { measureTokenStatistics, pickFrames, TOKEN_STATS_SAMPLE } from './token-stats.js';
import { claimRunFolder, filesSha256, RUN_FORMAT, runPaths, type RunSettings } from './run-folder.js';
import { position, type Run, runStage, writeChart } from './stage.js';
import type { Stage, StageName } from './stages.js';

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
  /** A split encoder's tail learns at this share of the stage's rate (default ENCODER_LR_SCALE, stages.ts). */
  encoderLrScale?: number;
  /** At most this many updates per stage (the schedule is fitted to them). */
  maxSteps?: number;
  /** Updates between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Store the model directories' float32 weights as float16 or bfloat16 (half the size). */
  saveDtype?: 'float16' | 'bfloat16';
  /** Continue the run in `out` (a folder without a run starts one). */
  resume?: boolean;
  /** Examples each `data` source contributes per epoch: fewer are repeated up to `min`, more subsampled to `max`
   * (mixing.ts). Without either, an epoch is every example once. */
  mix?: MixOptions;
  /** The first sentence of each answer, where FaceInstruct states the label, counts this many times in the training
   * loss (a whole number; default 1, every answer token alike). The validation loss counts every token once. */
  leadWeight?: number;
  /** Inverted dropout of the encoder's tokens in training (collate.ts dropFeatures): the share zeroed, in [0, 1)
   * (default 0). Validation and inference read them whole. */
  featureDropout?: number;
  /** Each training example reads its crops as they are or mirrored (the grid flipped back), at even odds, drawn anew
   * each update: the two views a model with `mirror` averages at inference (model/mirror.ts). Caches both views. */
  mirrorViews?: boolean;
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
  | { type: 'encode'; done: number; total: number; mirrored?: boolean }
  | { type: 'stage'; index: number; count: number; stage: Stage; steps: number; from: number; examples: number; trainableParams: number }
  | { type: 'step'; entry: StepEntry; steps: number; secondsLeft: number }
  | { type: 'val'; entry: ValEntry }
  | { type: 'checkpoint'; stage: string; step: number };

export interface TrainResult {
  /** The trained model directory; null when the run was interrupted. */
  model: string | null;
  interrupted: boolean;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const prepared = await prepare(o);
  if (prepared === 'finished') return { model: runPaths(resolve(o.out)).model, interrupted: false };
  if (prepared === 'stopped') return { model: null, interrupted: true };
  const { run, checkpoint, initSource } = prepared;
  const { paths, log } = run;
  try {
    for (let k = checkpoint?.position.stage ?? 0; k < o.stages.length; k++) {
      const source = k === 0 ? initSource : openCheckpoint(paths.stage(o.stages[k - 1]));
      // A checkpoint at update 0 of a stage only records that the stages before it are done.
      const resumeFrom = checkpoint?.position.stage === k && checkpoint.position.step > 0 ? checkpoint : undefined;
      const weights = await runStage(run, k, source, resumeFrom);
      if (!weights) return { model: null, interrupted: true };
      const last = k === o.stages.length - 1;
      await saveModel(run, last ? paths.model : paths.stage(o.stages[k]), weights, k, source);
      saveCheckpoint(run.out, { position: position(run, k + 1, 0), state: { step: 0, params: {}, m: {}, v: {} } });
      if (!last && o.signal?.aborted) return { model: null, interrupted: true };
    }
  } finally {
    await writeChart(run);
    log.close();
  }
  return { model: paths.model, interrupted: false };
}

/**
 * Reads the data, claims the run folder (or checks the settings of the run to resume), loads the last checkpoint
 * and caches the encoder's features. 'finished' when the run to resume has already finished, 'stopped' when the
 * signal stopped the caching (the features encoded so far stay cached for the resumed run).
 */
async function prepare(o: TrainOptions): Promise<{ run: Run; checkpoint: Checkpoint | null; initSource?: WeightSource } | 'finished' | 'stopped'> {
  const out = resolve(o.out);
  const paths = runPaths(out);
  const emit = (event: TrainEvent) => o.onEvent?.(event);
  const batch = o.batch ?? 8;
  const accum = o.accum ?? 1;
  const epochs = o.epochs ?? 1;
  const seed = o.seed ?? 0;
  for (const [name, v] of Object.entries({ batch, accum, epochs, checkpointEvery: o.checkpointEvery ?? 1, leadWeight: o.leadWeight ?? 1, maxSteps: o.maxSteps ?? 1, valEvery: o.valEvery ?? 1 })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number ≥ 1, got ${v}`);
  }
  if (o.featureDropout !== undefined && !(o.featureDropout >= 0 && o.featureDropout < 1)) throw new Error(`featureDropout must be in [0, 1), got ${o.featureDropout}`);
  if (o.stages.length === 0) throw new Error('no stage to run');
  if (new Set(o.stages).size !== o.stages.length) throw new Error(`a stage cannot run twice in one run (${o.stages.join(', ')})`);
  if (!o.init && o.stages[0] !== 'pretrain') throw new Error(`stage ${o.stages[0]} trains on top of a model: give --init <model dir>, or start with --stage pretrain`);
  if (!o.init && !o.config) throw new Error('a run from scratch needs a model config');

  const initSource = o.init ? openCheckpoint(resolve(o.init)) : undefined;
  const base = o.init ? (JSON.parse(await readFile(join(resolve(o.init), CONFIG_FILE_NAME), 'utf8')) as Record<string, unknown>) : { ...o.config };
  const faceLlava = parseFaceLlavaConfig(base.face_llava);
  // Stage 1 trains the landmark branch alone: on a model without one it would run updates that change nothing.
  if (!usesLandmarks(faceLlava) && o.stages.includes('1')) {
    throw new Error(`stage 1 trains only FRLP and FRGCA, and this model has no landmark branch (cross_attn none): run stage 2 or pretrain instead`);
  }
  // Each --data path is one source of the mixture.
  const sourceFiles = await Promise.all(o.data.map((spec) => listJsonl([spec])));
  const dataFiles = sourceFiles.flat();
  const valFiles = o.val?.length ? await listJsonl(o.val) : [];
  const tokenizer = llamaTokenizer();
  const mix: MixOptions = { min: o.mix?.min, max: o.mix?.max, balanceLabels: o.mix?.balanceLabels };
  checkMix(mix);
  const loaded: LoadedData = { examples: [], skipped: {}, tasks: [] };
  const sources: number[] = [];
  for (const [s, files] of sourceFiles.entries()) {
    const part = await loadExamples(files, { tokenizer, config: faceLlava, split: 'train' });
    // One at a time: a spread of a large source would overflow the call's argument limit.
    for (const example of part.examples) {
      loaded.examples.push(example);
      sources.push(s);
    }
    for (const [reason, n] of Object.entries(part.skipped)) loaded.skipped[reason] = (loaded.skipped[reason] ?? 0) + n;
    loaded.tasks = [...new Set([...loaded.tasks, ...part.tasks])].sort();
  }
  const val = await loadExamples(valFiles, { tokenizer, config: faceLlava, split: 'val' });
  if (loaded.examples.length === 0) throw new Error(`no training examples in ${o.data.join(', ')}`);
  for (const [reason, n] of Object.entries(loaded.skipped)) emit({ type: 'info', message: `skipped ${n} training record(s): ${reason}` });
  // The model directories say which tasks the model knows: those it started with and those of the data.
  const tasks = [...new Set([...((base.tasks as string[] | undefined) ?? []), ...loaded.tasks])].sort();
  const config = parseModelDirConfig({ ...base, tasks });
  // Answering averages a video's frames under frame_mean (pipeline/generation.ts); the training graph has no such
  // step, so a video would be trained one way and answered another.
  const isVideo = (e: { frames: readonly unknown[] }) => e.frames.length > 1;
  const video = loaded.examples.find(isVideo) ?? val.examples.find(isVideo);
  if (video && config.video_tokens === 'frame_mean') {
    throw new Error(`${video.id} is a video (${video.frames.length} frames), and the model config reads videos as the mean of their frames (video_tokens frame_mean), which training does not do: set "video_tokens": "per_frame" in the config to train on videos`);
  }

  await mkdir(out, { recursive: true });
  const settings: RunSettings = {
    format: RUN_FORMAT,
    data: o.data.map((d) => resolve(d)),
    data_sha256: await filesSha256(dataFiles),
    val: (o.val ?? []).map((d) => resolve(d)),
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
    source_min: mix.min ?? null,
    source_max: mix.max ?? null,
    balance_labels: mix.balanceLabels ? true : null,
    encoder_lr_scale: o.encoderLrScale ?? null,
    lead_weight: (o.leadWeight ?? 1) > 1 ? o.leadWeight! : null,
    feature_dropout: o.featureDropout ? o.featureDropout : null,
    mirror_views: o.mirrorViews ? true : null,
  };
  await claimRunFolder(out, settings, o.resume ?? false);
  const checkpoint = o.resume ? loadCheckpoint(out) : null;
  if (checkpoint && checkpoint.position.stage >= o.stages.length) {
    emit({ type: 'info', message: `${out} has finished training; the model is in ${paths.model}` });
    return 'finished';
  }

  const encoder = config.encoder.kind === 'npm' ? await resolveEncoder(config.encoder, o.resolveEncoder, 'train') : undefined;
  const cacheOptions = { config, encoder, weights: initSource, cache: o.cache ?? paths.cache, threads: o.threads, signal: o.signal, emit };
  const store = await cacheFeatures([...loaded.examples, ...val.examples], cacheOptions);
  if (!store) return 'stopped';
  // Validation reads the crops as they are; only the training examples need their mirrored view.
  const mirrorStore = o.mirrorViews ? await cacheFeatures(loaded.examples, { ...cacheOptions, mirrored: true }) : undefined;
  if (mirrorStore === null) return 'stopped';
  const tokenStats = await tokenStatistics(config, initSource, store, loaded.examples, emit);
  const log = TrainLog.open(paths.log, checkpoint?.position.logBytes ?? 0);
  const epochExamples = epochSize(sourceCounts(sources), mix);
  const total = Math.min(epochs * stepsPerEpoch(epochExamples, { batch, accum }), o.maxSteps ?? Infinity);
  const run: Run = { o, out, paths, config, encoder, examples: loaded.examples, sources, mix, epochExamples, valExamples: val.examples, store, mirrorStore, tokenStats, log, batch, accum, seed, total };
  return { run, checkpoint, initSource };
}

/**
 * The statistics a model with `standardize_tokens` reads its tokens by (model/token-norm.ts): the starting model's
 * own, or — for a model trained from scratch — measured on the training crops. A trained model without them
 * cannot just be given some, since its projector learned raw tokens: standardize-tokens folds them in.
 */
async function tokenStatistics(
  config: ModelDirConfig,
  init: WeightSource | undefined,
  store: FeatureStore,
  examples: readonly Example[],
  emit: (e: TrainEvent) => void,
): Promise<Map<string, HostTensor> | undefined> {
  if (!config.face_llava.standardize_tokens) return undefined;
  if (init) {
    if (init.tensors.has(TOKEN_NORM_MEAN) && init.tensors.has(TOKEN_NORM_STD)) return undefined;
    throw new Error(`the model to start from sets standardize_tokens but has no ${TOKEN_NORM_MEAN} / ${TOKEN_NORM_STD}: make it with \`npx tsx scripts/standardize-tokens.ts\` from the model before`);
  }
  const stats = await measureTokenStatistics(store, pickFrames(examples.flatMap((e) => e.frames), TOKEN_STATS_SAMPLE));
  emit({ type: 'info', message: `standardize_tokens: channel statistics of ${stats.frames} training crops` });
  return new Map([
    [TOKEN_NORM_MEAN, stats.mean],
    [TOKEN_NORM_STD, stats.std],
  ]);
}

/** Runs the frozen encoder over every crop that has no cached features yet; null when stopped by the signal. */
async function cacheFeatures(
  examples: readonly Example[],
  o: { config: ModelDirConfig; encoder?: ResolvedEncoder; weights?: WeightSource; cache: string; threads?: number; mirrored?: boolean; signal?: AbortSignal; emit: (e: TrainEvent) => void },
): Promise<FeatureStore | null> {
  const extractor = await encoderExtractor(o.config, { encoder: o.encoder, weights: o.weights, threads: o.threads, mirrored: o.mirrored });
  try {
    const store = await FeatureStore.open(o.cache, extractor);
    const done = await store.ensure(
      examples.flatMap((e) => e.frames),
      (done, total) => o.emit({ type: 'encode', done, total, ...(o.mirrored && { mirrored: true }) }),
      o.signal,
    );
    return done ? store : null;
  } finally {
    await extractor.release();
  }
}

/** A model directory holding the stage's weights, plus the weights the graph after the encoder never read. */
async function saveModel(run: Run, dir: string, trained: Map<string, HostTensor>, k: number, source: WeightSource | undefined): Promise<void> {
  const own = new Set(run.encoder?.weights?.tensors.keys());
  const names = modelParams(run.config.face_llava, run.encoder?.network).filter((p) => !own.has(p.name) && !trained.has(p.name));
  const rest = source ? loadWeights(names, source, { strict: false }).weights : new Map<string, HostTensor>();
  // A run from --init records the model it started from and that model's own record, so a model trained in several
  // runs (the default model: pretrain, then a stage-2 continuation) says how it was made, run by run.
  // An init made by widen-encoder carries `widened_from`; it describes the init, so it moves into this run's record.
  // An init's `output_vocab` lists the tokens its own training answers used, which this run's data may exceed: dropped.
  // Likewise `standardized_from`, made by standardize-tokens, and `tuned_from`, made by tune-network.
  const { training: before, widened_from: widened, standardized_from: standardized, tuned_from: tuned, output_vocab: _, ...config } = run.config as ModelDirConfig & {
    training?: unknown;
    widened_from?: unknown;
    standardized_from?: unknown;
    tuned_from?: unknown;
  };
  const training = {
    run: run.out,
    ...(run.o.init && { init: run.o.init, init_training: before ?? null }),
    ...(run.o.init && widened !== undefined && { init_widened: widened }),
    ...(run.o.init && standardized !== undefined && { init_standardized: standardized }),
    ...(run.o.init && tuned !== undefined && { init_tuned: tuned }),
    ...(run.o.lr !== undefined && { lr: run.o.lr }),
    stages: run.o.stages.slice(0, k + 1),
    updates_per_stage: run.total,
    examples: run.examples.length,
    examples_per_epoch: run.epochExamples,
    ...(run.mix.min !== undefined || run.mix.max !== undefined ? { source_min: run.mix.min ?? null, source_max: run.mix.max ?? null } : {}),
    ...(run.mix.balanceLabels && { balance_labels: true }),
    ...((run.o.leadWeight ?? 1) > 1 && { lead_weight: run.o.leadWeight }),
    ...(run.o.featureDropout && { feature_dropout: run.o.featureDropout }),
    ...(run.o.mirrorViews && { mirror_views: true }),
  };
  await savePretrained(dir, { config: { ...config, training }, weights: new Map([...rest, ...trained]), encoder: run.encoder, dtype: run.o.saveDtype });
}
