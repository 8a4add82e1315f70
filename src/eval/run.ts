// An evaluation run: every sample of a labelled source (a data pack, or a user's labelled folder) goes through the
// face expert (crop and landmarks), is asked the task's instruction, and its answer is read for a label; the
// readings are scored with the paper's metrics, and optionally each answer's reasoning is rated by a judge LLM.
// The face expert and the model sit behind two small interfaces, so a run can be driven by any answerer.
import { openSource } from '../data/build/sources.js';
import { selectRows } from '../data/build/select.js';
import { DEFAULT_VAL_FRACTION, splitBasis, type SplitBasis, type SplitName } from '../data/build/splits.js';
import type { Task, TaskLabel } from '../data/build/types.js';
import { FaceExpertError, type FaceExpert } from '../face/index.js';
import type { Pretrained } from '../model/pretrained.js';
import { answerQuestions, type Question } from '../pipeline/generation.js';
import { faceMedia, type FaceMedia } from '../pipeline/requests.js';
import { summarizeJudgements, type JudgeOutcome, type JudgeSummary, type ReasoningJudge } from './judge.js';
import { evalInstruction, readAnswer, scoreTask, type AuSelection, type Reading, type TaskScore, type Truth } from './tasks.js';

export type { FaceMedia } from '../pipeline/requests.js';
export type { Question } from '../pipeline/generation.js';

export interface FaceReader {
  read(bytes: Buffer): Promise<FaceMedia>;
}

/**
 * How a sample's picture becomes the face crop. `detect` crops as `face-llava data build` does (the main face's box
 * ×1.4, so faces sit framed as in training), falling back to the whole picture where no face is found — pack images
 * are face crops already, and a sample dropped for that would flatter the score. `whole` takes the whole picture as
 * the crop (landmarks are still located).
 */
export const CROP_MODES = ['detect', 'whole'] as const;
export type CropMode = (typeof CROP_MODES)[number];

/** The face expert as a FaceReader; a video gives `frames` frames sampled uniformly. */
export function expertFaceReader(expert: FaceExpert, options: { crop: CropMode; frames: number }): FaceReader {
  const analyze = (bytes: Buffer, skipDetection: boolean) => expert.analyze(bytes, { skipDetection, frames: options.frames });
  return {
    async read(bytes) {
      if (options.crop === 'whole') return faceMedia(await analyze(bytes, true));
      try {
        return faceMedia(await analyze(bytes, false));
      } catch (err) {
        if (err instanceof FaceExpertError && (err.code === 'NO_FACE' || err.code === 'TOO_FEW_FACE_FRAMES')) return faceMedia(await analyze(bytes, true));
        throw err;
      }
    },
  };
}

/** Answers questions; question i of a call samples with seed + i, so answers do not depend on batching. */
export interface Answerer {
  answer(questions: readonly Question[], seed: number): Promise<string[]>;
}

/**
 * A loaded model directory as an Answerer, generating as its config says (or up to `maxNewTokens`); labels are
 * chosen by the tasks' decision rules unless `labelRules` is false (pipeline/label-guides.ts).
 */
export function modelAnswerer(pretrained: Pretrained, options: { maxNewTokens?: number; labelRules?: boolean; labelHeads?: boolean; headWeight?: number; mirror?: boolean } = {}): Answerer {
  return {
    async answer(questions, seed) {
      const { generations } = await answerQuestions(pretrained, questions, { maxNewTokens: options.maxNewTokens, sampling: { seed }, labelRules: options.labelRules, labelHeads: options.labelHeads, headWeight: options.headWeight, mirror: options.mirror });
      return generations.map((g) => g.text.trim());
    },
  };
}

/** One line of predictions.jsonl. */
export interface PredictionRecord {
  file: string;
  truth: Truth;
  answer: string;
  /** The label read from the answer; null when unreadable. */
  extracted: Reading | null;
  /** The judge's verdict, when a judge rated the run. */
  judge?: JudgeOutcome;
}

export interface SkippedSample {
  file: string;
  reason: string;
}

export interface EvalProgress {
  done: number;
  unreadable: number;
  skipped: number;
  elapsedMs: number;
}

export interface EvalOptions {
  task: Task;
  /** A pack name (looked up under `dataRoot`) or a path, as src/data/build/sources.ts `openSource` reads it. */
  pack: string;
  dataRoot: string;
  /**
   * Only rows of this split (default: every row), as `face-llava data build` assigns them (src/data/build/splits.ts
   * `assignSplit`): the source's own split column, but by a hash of the subject where the source names subjects
   * (CK+, whose column is all `train`), so that no subject evaluated was trained on.
   */
  split?: SplitName;
  /** The val share of subjects (or files) of that assignment; the build's default unless the build set another. */
  valFraction?: number;
  /** At most this many samples: a seeded hash sample of the split, as `data build --limit` draws it (the first rows
   * of a pack can be anything but representative: UTKFace's are sorted by age). */
  limit?: number;
  /** Questions answered together (default 4). */
  batch?: number;
  /** Sampling seed of the first sample; sample k uses seed + k (default 0). */
  seed?: number;
  /** The AUs an `au` evaluation scores (default: those that occur in the ground truth). */
  aus?: AuSelection;
  faces: FaceReader;
  answerer: Answerer;
  judge?: ReasoningJudge;
  onProgress?: (progress: EvalProgress) => void;
  /** A sample left out: a malformed row, or media the face expert could not read. */
  onSkip?: (skipped: SkippedSample) => void;
}

export interface EvalResult {
  task: Task;
  /** The source's name (the pack's, or the folder's). */
  source: string;
  split: string | null;
  /** How the split's rows were told apart (one basis per kind of row met), and the val share; null without a split. */
  splitAssignment: SplitAssignment | null;
  /** The image form of the instruction (videos are asked the same about "this video"). */
  instruction: string;
  predictions: PredictionRecord[];
  score: TaskScore;
  skipped: SkippedSample[];
  judge?: JudgeSummary;
}

export interface SplitAssignment {
  by: SplitBasis[];
  valFraction: number;
}

interface Pending {
  file: string;
  label: TaskLabel;
  read(): Promise<Buffer>;
}

/** Seeds `limit`'s sample: fixed, so runs of several models with the same limit score the same images. */
const EVAL_SAMPLE_SEED = 'eval';

export async function runEval(options: EvalOptions): Promise<EvalResult> {
  const { task, faces, answerer, judge } = options;
  const batchSize = options.batch ?? 4;
  const seed = options.seed ?? 0;
  const started = Date.now();
  const predictions: PredictionRecord[] = [];
  const verdicts: Promise<JudgeOutcome>[] = [];
  const skipped: SkippedSample[] = [];
  const skip = (sample: SkippedSample) => {
    skipped.push(sample);
    options.onSkip?.(sample);
  };
  let unreadable = 0;

  const answerBatch = async (batch: readonly Pending[]): Promise<void> => {
    const asked: { item: Pending; question: Question }[] = [];
    for (const item of batch) {
      try {
        const media = await faces.read(await item.read());
        asked.push({ item, question: { media, instruction: evalInstruction(task, media.kind), task } });
      } catch (err) {
        skip({ file: item.file, reason: (err as Error).message });
      }
    }
    if (asked.length === 0) return;
    const answers = await answerer.answer(asked.map((a) => a.question), seed + predictions.length);
    asked.forEach(({ item, question }, i) => {
      const extracted = readAnswer(task, answers[i]);
      if (extracted === null) unreadable++;
      predictions.push({ file: item.file, truth: item.label.value, answer: answers[i], extracted });
      if (judge) {
        const { media, instruction } = question;
        verdicts.push(judge.rate({ label: item.label, media: media.kind, instruction, answer: answers[i], frames: media.crops }));
      }
    });
    options.onProgress?.({ done: predictions.length, unreadable, skipped: skipped.length, elapsedMs: Date.now() - started });
  };

  const valFraction = options.valFraction ?? DEFAULT_VAL_FRACTION;
  const bases = new Set<SplitBasis>();
  const source = await openSource(options.pack, task, options.dataRoot);
  try {
    let batch: Pending[] = [];
    const rows = await selectRows([source], { split: options.split, valFraction, limit: options.limit, seed: EVAL_SAMPLE_SEED, part: { index: 0, count: 1 } });
    for await (const event of rows.events) {
      if ('issue' in event) {
        skip({ file: event.issue.id, reason: event.issue.reason });
        continue;
      }
      const { item } = event;
      if (options.split !== undefined) bases.add(splitBasis(item));
      batch.push({ file: item.file, label: item.label, read: () => item.read() });
      if (batch.length >= batchSize) {
        await answerBatch(batch);
        batch = [];
      }
    }
    await answerBatch(batch);
  } finally {
    await source.close();
  }

  if (predictions.length === 0) {
    throw new Error(`no samples to evaluate: ${options.pack} has no readable ${task} samples${options.split !== undefined ? ` in split ${options.split}` : ''}`);
  }
  let judgeSummary: JudgeSummary | undefined;
  if (judge) {
    const outcomes = await Promise.all(verdicts);
    outcomes.forEach((outcome, i) => (predictions[i].judge = outcome));
    judgeSummary = summarizeJudgements(judge.model, outcomes);
  }
  return {
    task,
    source: source.name,
    split: options.split ?? null,
    splitAssignment: options.split === undefined ? null : { by: [...bases].sort(), valFraction },
    instruction: evalInstruction(task, 'image'),
    predictions,
    score: scoreTask(task, predictions.map((p) => p.truth), predictions.map((p) => p.extracted), { aus: options.aus }),
    skipped,
    ...(judgeSummary && { judge: judgeSummary }),
  };
}
