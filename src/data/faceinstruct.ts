// FaceInstruct: instruction-tuning data built from labelled face images and videos (SPEC §4). Per source row:
// the face expert's crop and landmarks (cached on disk by content hash), the cues measured on them, a description
// from an annotator, offline rule checks and optionally an LLM judge's ratings, an instruction drawn from the
// task's pool, and one JSONL line in the released code's format. Rows stream through a bounded window, so memory
// does not grow with the dataset; the output is checkpointed, so an interrupted build resumes to exactly the result
// of an uninterrupted one (see build/output.ts).
import { readFile, mkdir } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { measureCues } from './cues.js';
import { isFaceEntry, type FaceEntry } from './cache.js';
import type { Annotator } from './annotators/types.js';
import { drawInstruction, renderInstruction } from './instructions/index.js';
import { checkRules } from './rater/rules.js';
import { meanRating, type LlmJudge } from './rater/judge.js';
import { answerFor } from './build/answers.js';
import { localResolver, workerResolver, type FaceResolver } from './build/face-pool.js';
import { createFaceExpert, FACE_EXPERT_ID } from './build/face-expert.js';
import { OutputWriter, type Outcome, type Rejection } from './build/output.js';
import { rngFor } from './build/random.js';
import { eventId, selectRows, type RowSelection } from './build/select.js';
import { withAugmentedViews } from './build/augment.js';
import { openSource, PACK_TASKS, type Source, type SourceEvent, type SourceItem } from './build/sources.js';
import { assignSplit, DEFAULT_VAL_FRACTION, type SplitName } from './build/splits.js';
import type { FaceInstructRecord, Ratings, Task } from './build/types.js';
import { PACK_NAMES } from './packs.js';

export type { FaceInstructRecord, Ratings, Task, TaskLabel } from './build/types.js';
export { TASKS, isTask } from './build/types.js';

export interface BuildOptions {
  /** Source specs (see build/sources.ts `openSource`), or `all` for every pack with labels for the task. */
  sources: readonly string[];
  task: Task;
  out: string;
  /** Where pack names are looked up. Default `../shared/data`. */
  dataRoot?: string;
  annotator: Annotator;
  /** The LLM judge; without one, only the offline rules filter. */
  judge?: LlmJudge;
  /** Samples whose mean judge rating is below this are dropped. Default 6. */
  minRating?: number;
  /** Seeds every random choice (instructions, wording). Default `faceinstruct`. */
  seed?: string;
  /** Only the source rows of this split, as the records' `split` says (see build/select.ts). */
  split?: SplitName;
  /**
   * A sample of this many source rows (of the split), spread over each source by a seeded hash of the row id, the
   * same for every part: the parts of a limited build hold the rows of the unsplit one (see build/select.ts).
   */
  limit?: number;
  /**
   * Augmented views added after each train image row (build/augment.ts): each its own sample, id `<row>#aug<k>`.
   * Default 0. Rows of other splits and videos get none.
   */
  augment?: number;
  /** Face worker threads; 0 or 1 analyses faces on the main thread. */
  workers?: number;
  /** Samples in flight at once (face analysis, annotation, judging). Default 2 per worker, at least 4. */
  concurrency?: number;
  /** Share of subjects (or files, for sources without subjects or splits) sent to `val`. Default 0.1. */
  valFraction?: number;
  /** Sources left out entirely: the zero-shot protocol (SPEC §1). */
  zeroShot?: readonly string[];
  /** This build's part of the rows, for spreading one build over several processes or machines. */
  part?: { index: number; count: number };
  /** Samples per shard. Default 10 000. */
  shardSize?: number;
  /** The crop cache. Default `<out>/media`. Record paths are relative to `out`. */
  cacheDir?: string;
  /** Stops reading new rows: the build finishes what is in flight, checkpoints and returns. */
  signal?: AbortSignal;
  onProgress?: (progress: BuildProgress) => void;
  /** Called for each dropped row or sample as it is written (the CLI reports malformed rows live). */
  onDrop?: (rejection: Rejection) => void;
}

export interface BuildProgress {
  consumed: number;
  records: number;
  dropped: number;
}

export interface BuildSummary {
  records: number;
  dropped: Readonly<Record<string, number>>;
  consumed: number;
  /** Every source was read to its end. */
  exhausted: boolean;
  /** Source rows this run processed (the rest were done by earlier runs). */
  processed: number;
}

const DEFAULTS = { dataRoot: '../shared/data', minRating: 6, seed: 'faceinstruct', valFraction: DEFAULT_VAL_FRACTION, shardSize: 10_000 };
const CHECKPOINT_EVERY = 200;
const CHECKPOINT_MS = 5_000;

/** The sources a build reads: `all` expands to every pack with the task's labels; zero-shot sources are left out. */
export function resolveSourceSpecs(specs: readonly string[], task: Task, zeroShot: readonly string[] = []): string[] {
  const expanded = specs.flatMap((spec) => (spec === 'all' ? PACK_NAMES.filter((name) => PACK_TASKS[name].includes(task)) : [spec]));
  const left = new Set(zeroShot);
  return [...new Set(expanded)].filter((spec) => !left.has(spec) && !left.has(spec.split(/[\\/]/).filter(Boolean).pop() ?? spec));
}

/**
 * The results of `fn` over `inputs`, in input order, with at most `window` calls in flight. Pulls no new input once
 * `stop()` is true. A failed call throws when its turn comes, after every earlier result was yielded.
 */
async function* orderedMap<T, R>(inputs: AsyncIterable<T>, window: number, fn: (input: T) => Promise<R>, stop: () => boolean): AsyncGenerator<[T, R]> {
  const iterator = inputs[Symbol.asyncIterator]();
  const queue: { input: T; result: Promise<{ ok: true; value: R } | { ok: false; error: unknown }> }[] = [];
  let done = false;
  for (;;) {
    while (!done && queue.length < window && !stop()) {
      const next = await iterator.next();
      if (next.done) done = true;
      else {
        const input = next.value;
        queue.push({ input, result: fn(input).then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error })) });
      }
    }
    const head = queue.shift();
    if (!head) return;
    const settled = await head.result;
    if (!settled.ok) throw settled.error;
    yield [head.input, settled.value];
  }
}

interface Context {
  task: Task;
  out: string;
  seed: string;
  valFraction: number;
  minRating: number;
  faces: FaceResolver;
  annotator: Annotator;
  judge?: LlmJudge;
}

function mediaPath(out: string, file: string): string {
  return relative(out, file).split(sep).join('/');
}

function toRecord(item: SourceItem, face: FaceEntry, description: string, ctx: Context, ratings?: Ratings): FaceInstructRecord {
  const instruction = drawInstruction(ctx.task, rngFor(ctx.seed, 'instruction', item.id));
  const media = face.media;
  const token = media === 'video' ? '<video>' : '<image>';
  return {
    id: item.id,
    ...(media === 'video' ? { video: mediaPath(ctx.out, face.clip!) } : { image: mediaPath(ctx.out, face.frames[0]) }),
    conversations: [
      { from: 'human', value: `${token}\n${renderInstruction(instruction, media)}` },
      { from: 'gpt', value: answerFor(instruction, item.label, description) },
    ],
    landmarks_2d: media === 'video' ? face.landmarks : face.landmarks[0],
    task: ctx.task,
    label: item.label.value,
    source: item.source,
    split: assignSplit(item, ctx.valFraction),
    subject: item.subject ?? null,
    instruction_id: instruction.id,
    annotator: ctx.annotator.name,
    ...(ratings && { ratings }),
  };
}

async function processEvent(event: SourceEvent, ctx: Context): Promise<Outcome> {
  const drop = (id: string, source: string, reason: string, detail: string, ratings?: Ratings): Outcome => ({
    kind: 'drop',
    rejection: { id, source, reason, detail, ...(ratings && { ratings }) },
  });
  if ('issue' in event) return drop(event.issue.id, event.issue.source, 'malformed', event.issue.reason);
  const item = event.item;
  let bytes: Buffer;
  try {
    bytes = await item.read();
  } catch (err) {
    return drop(item.id, item.source, 'unreadable', err instanceof Error ? err.message : String(err));
  }
  const face = await ctx.faces.resolve(bytes);
  if (!isFaceEntry(face)) return drop(item.id, item.source, 'no_face', `${face.reason}: ${face.message}`);

  const cues = measureCues(face.landmarks);
  const frames = (): Promise<Buffer[]> => Promise.all(face.frames.map((file) => readFile(file)));
  const description = await ctx.annotator.annotate({ id: item.id, seed: ctx.seed, label: item.label, media: face.media, cues, frames });
  const failures = checkRules(description, item.label, cues);
  if (failures.length > 0) {
    return drop(item.id, item.source, `rule:${failures[0].rule}`, failures.map((f) => `${f.rule}: ${f.detail}`).join('; '));
  }
  let ratings: Ratings | undefined;
  if (ctx.judge) {
    const rated = await ctx.judge.rate({ label: item.label, media: face.media, description, frames: await frames() });
    if (!rated) return drop(item.id, item.source, 'judge_invalid', 'the judge did not reply with four ratings from 1 to 10');
    ratings = rated;
    const mean = meanRating(rated);
    if (mean < ctx.minRating) return drop(item.id, item.source, 'low_rating', `mean rating ${mean.toFixed(2)} < ${ctx.minRating}`, rated);
  }
  return { kind: 'record', record: toRecord(item, face, description, ctx, ratings) };
}

type SelectionOptions = Pick<BuildOptions, 'sources' | 'task' | 'dataRoot' | 'zeroShot' | 'part' | 'split' | 'limit' | 'valFraction' | 'seed' | 'augment'>;

const selection = (options: SelectionOptions): RowSelection => ({
  split: options.split,
  valFraction: options.valFraction ?? DEFAULTS.valFraction,
  limit: options.limit,
  seed: options.seed ?? DEFAULTS.seed,
  part: options.part ?? { index: 0, count: 1 },
});

/** The selected rows' events, each train image row followed by its augmented views when the build asks for them. */
function withViews(events: AsyncIterable<SourceEvent>, options: SelectionOptions): AsyncIterable<SourceEvent> {
  const rows = selection(options);
  const views = options.augment ?? 0;
  return views > 0 ? withAugmentedViews(events, { views, seed: rows.seed, task: options.task, valFraction: rows.valFraction }) : events;
}

/**
 * The source rows (and malformed rows) a build with these options reads, in its order: its split, its limit's
 * sample, its part, then augmented views. Reads the label files only, never the images.
 */
export async function* selectSourceRows(options: SelectionOptions): AsyncGenerator<SourceEvent> {
  const sources = await openSources(resolveSourceSpecs(options.sources, options.task, options.zeroShot), options.task, options.dataRoot ?? DEFAULTS.dataRoot);
  try {
    yield* withViews((await selectRows(sources, selection(options))).events, options);
  } finally {
    for (const source of sources) await source.close();
  }
}

/** How many source rows a build with these options reads in all, for a progress bar. */
export async function countSourceRows(options: SelectionOptions): Promise<number> {
  let count = 0;
  for await (const _ of selectSourceRows(options)) count++;
  return count;
}

async function openSources(specs: readonly string[], task: Task, dataRoot: string): Promise<Source[]> {
  const opened: Source[] = [];
  try {
    for (const spec of specs) opened.push(await openSource(spec, task, dataRoot));
    const names = opened.map((source) => source.name);
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate) throw new Error(`two sources are named ${duplicate}; sample ids would collide`);
    return opened;
  } catch (err) {
    for (const source of opened) await source.close();
    throw err;
  }
}

/** Builds (or resumes building) FaceInstruct shards in `options.out`. */
export async function buildFaceInstruct(options: BuildOptions): Promise<BuildSummary> {
  const out = resolve(options.out);
  const cacheDir = resolve(options.cacheDir ?? `${out}/media`);
  const rows = selection(options);
  const { part, seed, valFraction } = rows;
  const minRating = options.minRating ?? DEFAULTS.minRating;
  const shardSize = options.shardSize ?? DEFAULTS.shardSize;
  const workers = options.workers ?? 1;
  const specs = resolveSourceSpecs(options.sources, options.task, options.zeroShot);
  if (specs.length === 0) throw new Error('no sources left to read');
  // Sources first: a source that cannot give this task's labels fails before anything is written.
  const sources = await openSources(specs, options.task, options.dataRoot ?? DEFAULTS.dataRoot);

  // Everything the output depends on; resuming requires the same.
  const config = {
    task: options.task,
    sources: specs,
    zeroShot: [...(options.zeroShot ?? [])],
    seed,
    annotator: options.annotator.name,
    judge: options.judge ? { name: options.judge.name, minRating } : null,
    valFraction,
    part,
    // Only when set, so that builds begun without them resume.
    ...(options.split !== undefined && { split: options.split }),
    ...(options.limit !== undefined && { limit: options.limit }),
    ...(options.augment && { augment: options.augment }),
    shardSize,
    faceExpert: FACE_EXPERT_ID,
    media: mediaPath(out, cacheDir),
  };
  let writer: OutputWriter | undefined;
  let faces: FaceResolver | undefined;
  let processed = 0;
  let exhausted = false;
  try {
    await mkdir(out, { recursive: true });
    writer = await OutputWriter.open(out, config, shardSize);
    faces = workers > 1 ? await workerResolver(workers, cacheDir) : localResolver(cacheDir, await createFaceExpert());
    const ctx: Context = { task: options.task, out, seed, valFraction, minRating, faces, annotator: options.annotator, judge: options.judge };

    const resume = writer.resumePoint;
    const selected = await selectRows(sources, rows);
    let seen = 0;
    async function* pending(): AsyncGenerator<SourceEvent> {
      for await (const event of withViews(selected.events, options)) {
        seen++;
        if (seen < resume.consumed) continue;
        if (seen === resume.consumed) {
          if (eventId(event) !== resume.lastId) {
            throw new Error(`the sources changed since this build was checkpointed: row ${seen} is ${eventId(event)}, was ${resume.lastId}`);
          }
          continue;
        }
        yield event;
      }
      // A build whose limit left rows out stays partial (`exhausted` false), as when the limit took the first rows.
      exhausted = !selected.limited;
    }

    const stopped = (): boolean => options.signal?.aborted ?? false;
    const window = options.concurrency ?? Math.max(4, 2 * workers);
    let sinceCheckpoint = 0;
    let lastCheckpoint = Date.now();
    for await (const [event, outcome] of orderedMap(pending(), window, (event) => processEvent(event, ctx), stopped)) {
      await writer.write(eventId(event), outcome);
      processed++;
      if (outcome.kind === 'drop') options.onDrop?.(outcome.rejection);
      if (++sinceCheckpoint >= CHECKPOINT_EVERY || Date.now() - lastCheckpoint >= CHECKPOINT_MS) {
        await writer.checkpoint();
        sinceCheckpoint = 0;
        lastCheckpoint = Date.now();
      }
      options.onProgress?.(writer.progress);
    }
    exhausted &&= !stopped();
  } finally {
    // Whatever happened, what was written is a complete prefix of the output: record it.
    if (writer) {
      await writer.checkpoint(exhausted);
      await writer.close();
    }
    await faces?.close();
    for (const source of sources) await source.close();
  }
  return { ...writer.progress, dropped: { ...writer.dropped }, exhausted, processed };
}
