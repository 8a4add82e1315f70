// FaceInstruct JSONL (data/faceinstruct.ts writes it; the released code's format) as training examples: the
// conversation tokenized with the Vicuna v1 template and LLaVA's answer-only labels, one IMAGE_TOKEN_INDEX
// placeholder per frame, the frames' crops and their 68 landmarks.
//
// A record's `image` is a 256×256 face crop; a `video` is a clip of the sampled crops, with one landmark set per
// frame, and its `<video>` placeholder stands for one `<image>` per frame (Video-LLaVA's expansion). Media paths
// are relative to the JSONL file's folder.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { readManifest, REJECTED } from '../data/build/output.js';
import { isTask, type Task, type TaskLabel } from '../data/build/types.js';
import { isActionUnit } from '../data/labels/action-units.js';
import { isCelebaAttribute, type CelebaAttribute } from '../data/labels/attributes.js';
import { isExpression } from '../data/labels/expression.js';
import type { FaceLlavaConfig } from '../model/config.js';
import { visualTokensPerFrame } from '../model/face-llava.js';
import { NUM_LANDMARKS } from '../model/regions.js';
import { type ChatTurn, IGNORE_INDEX, IMAGE_TOKEN, IMAGE_TOKEN_INDEX, tokenizeConversation } from '../text/chat.js';
import type { Tokenizer } from '../text/tokenizer.js';

/** Where one frame's crop is: an image file, or frame `index` of a clip. */
export type FrameRef = { readonly file: string } | { readonly clip: string; readonly index: number };

export interface Example {
  readonly id: string;
  /** Token ids with IMAGE_TOKEN_INDEX once per frame. */
  readonly ids: Int32Array;
  /** The ids on answer tokens, IGNORE_INDEX elsewhere (aligned with ids). */
  readonly labels: Int32Array;
  readonly frames: readonly FrameRef[];
  /** [F, 68, 2] normalized to the crop. */
  readonly landmarks: Float32Array;
  /** Positions once every placeholder is replaced by a frame's visual tokens. */
  readonly length: number;
  /** Positions counted by the loss. */
  readonly answerTokens: number;
  /** How many of those, from the first, make up the first answer's first sentence — where a FaceInstruct answer
   * states its label (`leadSentenceTokens`); `--lead-weight` counts them more in the loss. */
  readonly leadTokens: number;
  /** The record's single class label (`label` of expression and real/fake records), for per-label balancing. */
  readonly label?: string;
  /** The record's task and label, where both are well formed (what label heads are fitted to: label-heads.ts). */
  readonly target?: TaskLabel;
  /** The record's `subject` (the person, where the source names one). */
  readonly subject?: string;
}

export interface LoadOptions {
  tokenizer: Tokenizer;
  config: FaceLlavaConfig;
  /** Records of this split are read, and records without a split; the others are left out. */
  split: 'train' | 'val';
  /** Longest spliced sequence (default the decoder's max_position_embeddings); longer ones lose their end. */
  maxLength?: number;
}

export interface LoadedData {
  examples: Example[];
  /** Records left out, by reason: `no_answer` (truncation or LLaVA's masking left no answer token), `too_long`
   * (the frames alone exceed the maximum length). Records of the other split are not counted. */
  skipped: Record<string, number>;
  /** The tasks the records are labelled with (`task`), sorted. */
  tasks: Task[];
}

/** A JSONL file, or its first `bytes` bytes: a FaceInstruct build in progress has complete records only that far. */
export interface JsonlFile {
  readonly path: string;
  readonly bytes?: number;
}

/**
 * The JSONL files named by `specs`: files as given; a FaceInstruct build's folder as the shards its manifest lists,
 * up to its last checkpoint; any other folder as its `*.jsonl` files (but rejected.jsonl), sorted.
 */
export async function listJsonl(specs: readonly string[]): Promise<JsonlFile[]> {
  const files: JsonlFile[] = [];
  for (const spec of specs) {
    const path = resolve(spec);
    if (!(await stat(path)).isDirectory()) {
      files.push({ path });
      continue;
    }
    const manifest = await readManifest(path);
    if (manifest) {
      files.push(...manifest.shards.map((s) => ({ path: join(path, s.file), bytes: s.bytes })));
      continue;
    }
    const shards = (await readdir(path)).filter((f) => f.endsWith('.jsonl') && f !== REJECTED).sort();
    if (shards.length === 0) throw new Error(`${spec}: no .jsonl files in this folder`);
    files.push(...shards.map((f) => ({ path: join(path, f) })));
  }
  return files;
}

/** The part of a JSONL file that holds its records. */
export async function readJsonl(file: JsonlFile): Promise<Buffer> {
  const bytes = await readFile(file.path);
  return file.bytes === undefined ? bytes : bytes.subarray(0, file.bytes);
}

/** Every example of the files, in file and line order. */
export async function loadExamples(files: readonly JsonlFile[], o: LoadOptions): Promise<LoadedData> {
  const examples: Example[] = [];
  const skipped: Record<string, number> = {};
  const tasks = new Set<Task>();
  for (const file of files) {
    const lines = (await readJsonl(file)).toString('utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${basename(file.path)}:${i + 1}`;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw new Error(`${where}: not JSON`);
      }
      const result = toExample(record, dirname(file.path), where, o);
      if (typeof result === 'string') skipped[result] = (skipped[result] ?? 0) + 1;
      else if (result) {
        examples.push(result);
        const task = (record as RawRecord).task;
        if (typeof task === 'string' && isTask(task)) tasks.add(task);
      }
    });
  }
  return { examples, skipped, tasks: [...tasks].sort() };
}

interface RawRecord {
  id?: unknown;
  image?: unknown;
  video?: unknown;
  conversations?: unknown;
  landmarks_2d?: unknown;
  split?: unknown;
  task?: unknown;
  label?: unknown;
  subject?: unknown;
}

/** An example, a skip reason, or null for a record of the other split. */
function toExample(raw: unknown, folder: string, where: string, o: LoadOptions): Example | string | null {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: a record must be a JSON object`);
  const r = raw as RawRecord;
  if (r.split !== undefined && r.split !== o.split) return null;
  const id = typeof r.id === 'string' ? r.id : where;
  const fail = (what: string): never => {
    throw new Error(`${where} (${id}): ${what}`);
  };

  const isVideo = typeof r.video === 'string';
  if (!isVideo && typeof r.image !== 'string') fail('needs an `image` or a `video` path');
  const points = isVideo ? r.landmarks_2d : [r.landmarks_2d];
  if (!Array.isArray(points) || points.length === 0) fail('needs `landmarks_2d` (68 [x, y] points, one set per video frame)');
  const count = (points as unknown[]).length;
  const landmarks = new Float32Array(count * NUM_LANDMARKS * 2);
  (points as unknown[]).forEach((frame, f) => {
    if (!Array.isArray(frame) || frame.length !== NUM_LANDMARKS) fail(`frame ${f} does not have ${NUM_LANDMARKS} landmarks`);
    (frame as unknown[]).forEach((p, k) => {
      if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && Number.isFinite(v))) fail(`landmark ${k} of frame ${f} is not [x, y]`);
      landmarks.set(p as number[], (f * NUM_LANDMARKS + k) * 2);
    });
  });
  const frames: FrameRef[] = isVideo
    ? Array.from({ length: count }, (_, index) => ({ clip: resolve(folder, r.video as string), index }))
    : [{ file: resolve(folder, r.image as string) }];

  const turns = toTurns(r.conversations, isVideo ? count : 1, fail);
  const example = tokenizeConversation(turns, o.tokenizer);
  const placeholders = example.inputIds.filter((t) => t === IMAGE_TOKEN_INDEX).length;
  if (placeholders !== frames.length) fail(`the conversation has ${placeholders} media placeholders for ${frames.length} frame(s)`);

  const perFrame = visualTokensPerFrame(o.config);
  const maxLength = o.maxLength ?? o.config.llm.max_position_embeddings;
  // LLaVA truncates input_ids to model_max_length; here the cut is in spliced positions, and never inside the frames.
  const keep = Math.min(example.inputIds.length, maxLength - frames.length * (perFrame - 1));
  if (keep <= example.inputIds.lastIndexOf(IMAGE_TOKEN_INDEX)) return 'too_long';
  const labels = Int32Array.from(example.labels.slice(0, keep));
  const answerTokens = labels.reduce((n, l) => n + (l === IGNORE_INDEX ? 0 : 1), 0);
  if (answerTokens === 0) return 'no_answer';
  return {
    id,
    ids: Int32Array.from(example.inputIds.slice(0, keep)),
    labels,
    frames,
    landmarks,
    length: keep + frames.length * (perFrame - 1),
    answerTokens,
    leadTokens: leadSentenceTokens(labels, o.tokenizer),
    ...(typeof r.label === 'string' && { label: r.label }),
    ...withTarget(r.task, r.label),
    ...(typeof r.subject === 'string' && { subject: r.subject }),
  };
}

/** `{ target }` for a record whose task and label are well formed, else nothing. */
function withTarget(task: unknown, label: unknown): { target?: TaskLabel } {
  const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && isActionUnit(x));
  const names = (v: unknown): v is CelebaAttribute[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && isCelebaAttribute(x));
  if (task === 'expression' && typeof label === 'string' && isExpression(label)) return { target: { task, value: label } };
  if (task === 'au' && numbers(label)) return { target: { task, value: label } };
  if (task === 'attributes' && names(label)) return { target: { task, value: label } };
  if (task === 'age' && typeof label === 'number' && Number.isFinite(label)) return { target: { task, value: label } };
  if (task === 'deepfake' && (label === 'real' || label === 'fake')) return { target: { task, value: label } };
  return {};
}

/**
 * How many answer tokens the first answer's first sentence takes: its labels up to and including the first piece
 * that ends a sentence (`.`, `!` or `?` followed by a new word or the answer's end; a decimal point is not followed by
 * a word), or the whole answer when it is one sentence without a stop ("Happy</s>" counts its `</s>` too).
 */
export function leadSentenceTokens(labels: Int32Array, tokenizer: Tokenizer): number {
  const start = labels.findIndex((l, i) => i > 0 && l !== IGNORE_INDEX);
  if (start < 0) return 0;
  let count = 0;
  for (let i = start; i < labels.length && labels[i] !== IGNORE_INDEX; i++) {
    count++;
    if (!/[.!?]$/.test(tokenizer.tokenToString(labels[i]))) continue;
    const next = labels[i + 1];
    if (next === undefined || next === IGNORE_INDEX || tokenizer.isSpecial(next) || tokenizer.tokenToString(next).startsWith('▁')) break;
  }
  return count;
}

/** The released format's turns (`from` human / gpt) as chat turns, `<video>` expanded to one `<image>` per frame. */
function toTurns(conversations: unknown, frames: number, fail: (what: string) => never): ChatTurn[] {
  if (!Array.isArray(conversations) || conversations.length < 2 || conversations.length % 2 !== 0) {
    fail('`conversations` must alternate human and gpt turns, ending with gpt');
  }
  return (conversations as { from?: unknown; value?: unknown }[]).map((turn, i) => {
    const from = i % 2 === 0 ? 'human' : 'gpt';
    if (turn?.from !== from || typeof turn.value !== 'string') fail(`turn ${i} must be {"from": "${from}", "value": "…"}`);
    const content = (turn.value as string).replaceAll('<video>', IMAGE_TOKEN.repeat(frames));
    return { role: from === 'human' ? 'user' : 'assistant', content };
  });
}
