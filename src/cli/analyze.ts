// `face-llava analyze <file…>`: each image or video through the face expert and the model; the answer is streamed to
// stdout as it is generated (under a `==> file <==` header when there are several files), or with --json one JSON
// line per input: the structured analysis, or {file, error: {code, message}}. A bad input is reported on stderr and
// skipped; the command then fails once every input has been tried.
import { Command, Option } from 'commander';
import { TASKS, type Task } from '../data/build/types.js';
import { DEFAULT_MAX_PIXELS, FaceExpertError } from '../face/index.js';
import { DEFAULT_MODEL_DIR } from '../model/pretrained.js';
import {
  ANALYSIS_TASKS,
  analysisTasks,
  FaceLlavaPipeline,
  type AllTasksAnalysis,
  type Analysis,
  type AnalysisOptions,
  type AnalysisTask,
  type Timings,
} from '../pipeline/index.js';
import type { CliIo } from './eval.js';
import { integer, nonNegative } from './options.js';

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

interface AnalyzeCliOptions {
  task?: AnalysisTask;
  prompt?: string;
  json?: boolean;
  model?: string;
  maxNewTokens?: number;
  temperature?: number;
  seed: number;
  labelRules: boolean;
  labelHeads: boolean;
  mirror?: boolean;
  fullVocab?: boolean;
  allFaces?: boolean;
  maxFaces?: number;
  skipDetection?: boolean;
  frames?: number;
  maxPixels: number;
  threads?: number;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** The JSON line of an analysis: boxes to a tenth of a pixel, times to a tenth of a millisecond. */
function jsonLine(file: string, result: Analysis | AllTasksAnalysis): string {
  const faces = result.faces.map((f) => ({
    ...f,
    box: { x: round(f.box.x, 1), y: round(f.box.y, 1), width: round(f.box.width, 1), height: round(f.box.height, 1) },
    score: f.score === null ? null : round(f.score, 4),
  }));
  const timings = Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, k === 'tokens' ? v : round(v, 1)])) as Timings;
  return JSON.stringify({ file, ...result, faces, timings }) + '\n';
}

/**
 * Writes answers to stdout as they are generated. With several answers (task all) the first streams live and the
 * others, generated alongside it, follow when all are done; each starts with its task's name.
 */
class AnswerPrinter {
  private started = false;

  constructor(
    private readonly io: CliIo,
    private readonly all: boolean,
  ) {}

  onText = (delta: string, task: Task | null): void => {
    if (this.all && task !== TASKS[0]) return;
    this.start();
    this.io.stdout(delta);
  };

  finish(result: Analysis | AllTasksAnalysis): void {
    this.start();
    this.io.stdout('\n');
    if (result.task !== 'all') return;
    for (const task of TASKS.slice(1)) this.io.stdout(`${task}: ${result.answers[task].answer}\n`);
  }

  /** Ends a line cut short by a failure. */
  abort(): void {
    if (this.started) this.io.stdout('\n');
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    if (this.all) this.io.stdout(`${TASKS[0]}: `);
  }
}

async function analyzeFiles(files: string[], o: AnalyzeCliOptions, io: CliIo): Promise<void> {
  const options: AnalysisOptions = {
    task: o.task,
    prompt: o.prompt,
    maxNewTokens: o.maxNewTokens,
    sampling: { seed: o.seed, ...(o.temperature !== undefined && { temperature: o.temperature }) },
    labelRules: o.labelRules,
    labelHeads: o.labelHeads,
    mirror: o.mirror,
    faces: o.allFaces ? 'all' : 'primary',
    maxFaces: o.maxFaces,
    skipDetection: o.skipDetection,
    frames: o.frames,
  };
  const tasks = analysisTasks(options); // invalid combinations fail before anything loads
  const pipeline = await FaceLlavaPipeline.load({ model: o.model, threads: o.threads, fullVocab: o.fullVocab, faceExpert: { maxPixels: o.maxPixels } });
  let failed = 0;
  try {
    const untrained = tasks.filter((t): t is Task => t !== null && !pipeline.tasks.includes(t));
    if (untrained.length > 0) io.stderr(`warning: the model was trained for ${pipeline.tasks.join(', ')}, not ${untrained.join(', ')}\n`);
    for (const [i, file] of files.entries()) {
      if (!o.json && files.length > 1) io.stdout(`${i > 0 ? '\n' : ''}==> ${file} <==\n`);
      const printer = new AnswerPrinter(io, o.task === 'all');
      try {
        const result = await pipeline.analyze(file, { ...options, onText: o.json ? undefined : printer.onText });
        if (o.json) io.stdout(jsonLine(file, result));
        else printer.finish(result);
      } catch (err) {
        failed++;
        printer.abort();
        const error = err instanceof FaceExpertError ? err.toJSON() : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
        if (o.json) io.stdout(JSON.stringify({ file, error }) + '\n');
        io.stderr(`face-llava analyze: ${file}: ${error.message} (${error.code})\n`);
      }
    }
  } finally {
    await pipeline.dispose();
  }
  if (failed > 0) throw new Error(`${failed} of ${files.length} input${files.length > 1 ? 's' : ''} failed`);
}

export function analyzeCommand(io: CliIo = processIo): Command {
  return new Command('analyze')
    .description(
      "answer a question about the face in each image or video, with the reasoning behind the answer: the task's " +
        'question (expression by default), or your own with --prompt. Exit code 1 if any input failed.',
    )
    .argument('<files...>', 'images (JPEG, PNG, WebP, GIF, AVIF, TIFF) or videos (MP4, MOV, WebM, MKV, AVI)')
    .addOption(new Option('--task <task>', 'the question asked and the label read; all: the five tasks at once').choices(ANALYSIS_TASKS))
    .option('--prompt <text>', 'ask this instead of the task question (the --task label is still read from the answer)')
    .option('--json', 'one JSON line per input: task, answer, label, faces, media, timings; or {file, error: {code, message}}')
    .option('--model <dir>', `the model directory (default ${DEFAULT_MODEL_DIR})`)
    .option('--max-new-tokens <n>', "cap on the answer's length (default: the model's setting)", integer(1))
    .option('--temperature <x>', "sampling temperature, 0 for greedy (default: the model's setting)", nonNegative)
    .option('--seed <n>', 'sampling seed', integer(0), 0)
    .option('--no-label-rules', "sample the label like the rest of the answer instead of choosing it by the task's decision rule (age: the median of the model's distribution; attributes: each one the model gives better than even odds)")
    .option('--no-label-heads', "leave the model's label heads out of the decision rules: the decoder alone chooses the label")
    .option('--mirror', "encode the face with its mirror image and average their visual tokens (test-time augmentation; default: the model's setting)")
    .option('--no-mirror', 'encode the face as it is only')
    .option('--full-vocab', "compute every token's logit even where the model lists an output vocabulary (config.json's output_vocab)")
    .option('--all-faces', 'report every face found (the answer is about the primary one: largest, then most central)')
    .option('--max-faces <n>', 'fail an input showing more faces than this (TOO_MANY_FACES)', integer(1))
    .option('--skip-detection', 'the inputs are face crops already: the whole picture is the face')
    .option('--frames <n>', "frames sampled per video (default: the model's, 8)", integer(1))
    .option('--max-pixels <n>', 'refuse larger images and frames (PIXEL_LIMIT)', integer(1), DEFAULT_MAX_PIXELS)
    .option('--threads <n>', 'onnxruntime threads (default: all cores)', integer(1))
    .action((files: string[], options: AnalyzeCliOptions) => analyzeFiles(files, options, io));
}
