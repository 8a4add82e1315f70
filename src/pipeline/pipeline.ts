// The library's front door, in the manner of a transformers.js pipeline: load a model directory and the face
// expert once, then analyze images and videos — faces found, the primary face cropped with its landmarks, the
// task's question answered with the reasoning, the label read out of the answer, every stage timed.
//
//   const fl = await FaceLlavaPipeline.load();             // the shipped model, or { model: dir }
//   const r = await fl.analyze('face.jpg', { task: 'expression', onText: (delta) => process.stdout.write(delta) });
//   r.label;                                                 // 'happy'
//   await fl.dispose();
import { isTask, TASKS, type Task } from '../data/build/types.js';
import { evalInstruction } from '../eval/tasks.js';
import { createFaceExpert, type FaceExpert, type FaceExpertOptions, type MediaInput } from '../face/index.js';
import { loadPretrained, type EncoderResolver, type Pretrained } from '../model/pretrained.js';
import type { FinishReason } from '../text/generate.js';
import type { SamplingOptionsInput } from '../text/sampling.js';
import { answerQuestions, type ModelTimings } from './generation.js';
import { readLabel, type Labels } from './labels.js';
import { analyzedMedia, type DetectedFace, type MediaSummary } from './media.js';
import { resolveModelDir } from './model-dir.js';

export type AnalysisTask = Task | 'all';
export const ANALYSIS_TASKS: readonly AnalysisTask[] = [...TASKS, 'all'];

export interface PipelineOptions {
  /** A model directory (default: the model shipped with the package, DEFAULT_MODEL_DIR). */
  model?: string;
  /** onnxruntime threads (default: all cores). */
  threads?: number;
  /** Compute every token's logit even where the model directory lists an `output_vocab` (which only a token
   * that none of its training answers held would need). */
  fullVocab?: boolean;
  /** Builds the frozen encoder of a model whose config names a network from an npm package. */
  resolveEncoder?: EncoderResolver;
  /** The face expert's detection threshold, pixel limit and ffmpeg paths. */
  faceExpert?: FaceExpertOptions;
}

export interface AnalysisOptions {
  /**
   * The task whose evaluation question is asked and whose label is read from the answer (default expression, or
   * none when a prompt is given). `all` asks the five tasks' questions in one batch: the media is encoded once.
   */
  task?: AnalysisTask;
  /** Ask this instead of the task's question; with a task, the task's label is still read from the answer. */
  prompt?: string;
  /** Longest answer in tokens (default: the model directory's setting). */
  maxNewTokens?: number;
  /** Over the model directory's (temperature, top-k); question i of `all` samples with seed + i. */
  sampling?: SamplingOptionsInput;
  /** Keep generating past the end of sequence: exactly maxNewTokens tokens (for benchmarks). */
  ignoreEos?: boolean;
  /**
   * Choose the label by the task's decision rule (default true): the median of the model's age distribution, each
   * CelebA attribute stated when the model gives it better than even odds (label-guides.ts; the other tasks are
   * sampled unless the model has label heads). False samples the label like the rest of the answer. Only the task's
   * own question has a rule, not a prompt.
   */
  labelRules?: boolean;
  /**
   * Pool the model's label heads (config.json `label_heads`; model/label-heads.ts) into the rules of the tasks that
   * have one (default true): the expression, the AUs and the attributes are then chosen from the heads' readings
   * and the decoder's together. False: the decoder alone.
   */
  labelHeads?: boolean;
  /**
   * Encode the face with its mirror image and average their visual tokens, the mirror's grid flipped back
   * (test-time augmentation, mirror.ts); default: the model directory's `mirror`.
   */
  mirror?: boolean;
  /** The answer as it is generated, in pieces that concatenate to it; `task` tells the answers of `all` apart. */
  onText?: (delta: string, task: Task | null) => void;
  /** `primary` (default): report the main face only; `all`: every face found. The model answers about the main one. */
  faces?: 'primary' | 'all';
  /** More faces than this in a picture is an error (TOO_MANY_FACES). */
  maxFaces?: number;
  /** The input is a face crop already: no detection, the whole picture is the face. */
  skipDetection?: boolean;
  /** Frames sampled from a video (default: the model's frames_per_video, 8 in the paper). */
  frames?: number;
}

/** One question and its answer. */
export interface Answer<T extends Task | null = Task | null> {
  task: T;
  /** The question asked. */
  prompt: string;
  /** The answer: a prediction and the reasoning behind it. */
  answer: string;
  /** The task's label as the answer states it; null when it states none, or when no task was given. */
  label: T extends Task ? Labels[T] | null : null;
  /**
   * The model's label head's reading of the face, where it has one for the task and used it: p_head of each of the
   * head's labels (an expression's probability; each AU's or attribute's probability of being present; each age's,
   * by the ages in years it was fitted on). The label
   * the answer states is the decision rule's, which pools this with the decoder's own probabilities.
   */
  headProbabilities?: Record<string, number>;
  finishReason: FinishReason;
  tokens: number;
}

export interface Timings extends ModelTimings {
  /** The face expert: decoding the media, detecting faces, locating landmarks. */
  faceMs: number;
  /** From the call to the result, any wait for the model behind other analyses of the same pipeline included. */
  totalMs: number;
}

export interface MediaAnalysis {
  /** The faces found, the one the model was asked about first (for a video: per sampled frame). */
  faces: DetectedFace[];
  media: MediaSummary;
  timings: Timings;
}

export type Analysis<T extends Task | null = Task | null> = Answer<T> & MediaAnalysis;

export interface AllTasksAnalysis extends MediaAnalysis {
  task: 'all';
  answers: { [T in Task]: Answer<T> };
}

/**
 * The tasks whose questions the options ask, in order (null: a free prompt without a task); a RangeError for
 * options that do not fit together. analyze() checks with it; a caller can check before loading anything.
 */
export function analysisTasks(options: AnalysisOptions): (Task | null)[] {
  const { task, prompt, maxNewTokens } = options;
  if (task !== undefined && task !== 'all' && !isTask(task)) throw new RangeError(`unknown task "${task}"; expected one of ${ANALYSIS_TASKS.join(', ')}`);
  if (prompt !== undefined && prompt.trim() === '') throw new RangeError('the prompt is empty');
  if (maxNewTokens !== undefined && !(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) {
    throw new RangeError(`maxNewTokens must be a whole number ≥ 1, got ${maxNewTokens}`);
  }
  if (task === 'all') {
    if (prompt !== undefined) throw new RangeError('a prompt is a single question: it cannot go with task "all"');
    return [...TASKS];
  }
  return [task ?? (prompt === undefined ? 'expression' : null)];
}

export class FaceLlavaPipeline {
  /** The model answers one batch at a time (its decoder keeps the batch's cache); analyses queue here for it. */
  private modelTurn: Promise<unknown> = Promise.resolve();
  /** Analyses under way, which dispose() lets finish. */
  private readonly running = new Set<Promise<unknown>>();
  private disposed = false;

  private constructor(
    private readonly pretrained: Pretrained,
    private readonly expert: FaceExpert,
  ) {}

  /** Loads the model directory and the face expert. A missing directory is a ModelNotFoundError. */
  static async load(options: PipelineOptions = {}): Promise<FaceLlavaPipeline> {
    const dir = resolveModelDir(options.model);
    const [pretrained, expert] = await Promise.allSettled([
      loadPretrained(dir, { threads: options.threads, resolveEncoder: options.resolveEncoder, fullVocab: options.fullVocab }),
      createFaceExpert(options.faceExpert),
    ]);
    if (pretrained.status === 'fulfilled' && expert.status === 'fulfilled') return new FaceLlavaPipeline(pretrained.value, expert.value);
    if (expert.status === 'fulfilled') expert.value.dispose();
    if (pretrained.status === 'fulfilled') await pretrained.value.dispose();
    throw pretrained.status === 'rejected' ? pretrained.reason : (expert as PromiseRejectedResult).reason;
  }

  /** The model directory, absolute. */
  get modelDir(): string {
    return this.pretrained.dir;
  }

  /** The tasks the model was trained for (config.json); it can still be asked about others. */
  get tasks(): readonly Task[] {
    return this.pretrained.config.tasks;
  }

  /**
   * Analyzes an image or a video (a path or its bytes). Rejects with a FaceExpertError (its `code` says why) for
   * media that cannot be read or shows no usable face, and with a RangeError for invalid options.
   */
  analyze(input: MediaInput, options: AnalysisOptions & { task: 'all' }): Promise<AllTasksAnalysis>;
  analyze<T extends Task>(input: MediaInput, options: AnalysisOptions & { task: T }): Promise<Analysis<T>>;
  analyze(input: MediaInput, options?: AnalysisOptions & { task?: Task }): Promise<Analysis>;
  analyze(input: MediaInput, options?: AnalysisOptions): Promise<Analysis | AllTasksAnalysis>;
  async analyze(input: MediaInput, options: AnalysisOptions = {}): Promise<Analysis | AllTasksAnalysis> {
    if (this.disposed) throw new Error('the pipeline has been disposed');
    const run = this.run(input, options);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  /** Frees the model's sessions and the face expert's networks once the analyses under way are done. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.allSettled(this.running);
    this.expert.dispose();
    await this.pretrained.dispose();
  }

  private async run(input: MediaInput, options: AnalysisOptions): Promise<Analysis | AllTasksAnalysis> {
    const tasks = analysisTasks(options);
    const start = performance.now();
    const { frames_per_video: framesPerVideo } = this.pretrained.config.face_llava;
    const analysis = await this.expert.analyze(input, {
      faces: options.faces,
      maxFaces: options.maxFaces,
      skipDetection: options.skipDetection,
      frames: options.frames ?? framesPerVideo,
    });
    const faceMs = performance.now() - start;
    const { model, faces, media } = analyzedMedia(analysis);
    // A task is null only when a prompt is given.
    const prompts = tasks.map((task) => options.prompt ?? evalInstruction(task!, media.kind));
    const { onText } = options;
    const { generations, headReadings, timings } = await this.withModel(() =>
      // One media object for all the questions: it is encoded once.
      answerQuestions(
        this.pretrained,
        prompts.map((instruction, i) => ({ media: model, instruction, task: options.prompt === undefined ? (tasks[i] ?? undefined) : undefined })),
        {
          maxNewTokens: options.maxNewTokens,
          labelRules: options.labelRules,
          labelHeads: options.labelHeads,
          mirror: options.mirror,
          sampling: options.sampling,
          stopIds: options.ignoreEos ? [] : undefined,
          onText: onText && ((question, delta) => onText(delta, tasks[question])),
        },
      ),
    );
    const answers = generations.map((g, i): Answer => {
      const task = tasks[i];
      const label = task === null ? null : readLabel(task, g.text);
      const reading = headReadings[i];
      return { task, prompt: prompts[i], answer: g.text, label, ...(reading && { headProbabilities: reading }), finishReason: g.finishReason, tokens: g.ids.length };
    });
    const described: MediaAnalysis = { faces, media, timings: { faceMs, ...timings, totalMs: performance.now() - start } };
    if (options.task === 'all') {
      return { task: 'all', answers: Object.fromEntries(answers.map((a) => [a.task, a])) as AllTasksAnalysis['answers'], ...described };
    }
    return { ...answers[0], ...described };
  }

  private withModel<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.modelTurn.then(work);
    this.modelTurn = turn.catch(() => undefined);
    return turn;
  }
}

/** The same as FaceLlavaPipeline.load. */
export const createFaceLlava = (options?: PipelineOptions): Promise<FaceLlavaPipeline> => FaceLlavaPipeline.load(options);
