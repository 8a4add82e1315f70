// `face-llava eval`: a model directory answers the task's instruction on every sample of a data pack; the labels
// read from its answers are scored with the paper's metrics. `--model npm:human` or `npm:face-api` puts a library's
// own face models in the model's place (src/eval/baselines/), scored the same way on the same crops. Results
// (report.md, chart.svg, metrics.json, predictions.jsonl) go into --out; the headline numbers (or, with --json,
// metrics.json) on stdout; progress on stderr.
import { basename, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TASKS, type Task } from '../data/build/types.js';
import { DEFAULT_VAL_FRACTION, SPLIT_NAMES, type SplitName } from '../data/build/splits.js';
import { ChatClient } from '../data/openai-client.js';
import { createFaceExpert } from '../face/index.js';
import { DEFAULT_MODEL_DIR, loadPretrained, PACKAGE_ROOT } from '../model/pretrained.js';
import { BASELINE_NAMES, BASELINE_VIDEO_FRAMES, checkBaselineTask, isBaselineName, loadBaseline } from '../eval/baselines/index.js';
import { ReasoningJudge } from '../eval/judge.js';
import { describeSplit, writeEvalOutputs, OUTPUT_FILES, type EvalGeneration } from '../eval/report.js';
import { CROP_MODES, type CropMode, expertFaceReader, modelAnswerer, runEval, type Answerer } from '../eval/run.js';
import { resolveModelDir } from '../pipeline/model-dir.js';
import { fraction, integer } from './options.js';
import { headlines, parseAuSelection, PRESENT_AUS, type AuSelection } from '../eval/tasks.js';

/** Where pack names (fer2013, ckplus, …) are looked up: the data folder beside the project. */
export const DEFAULT_DATA_ROOT = resolve(PACKAGE_ROOT, '..', 'shared', 'data');

/** The environment variable holding the judge's API key. */
export const JUDGE_KEY_ENV = 'FACE_LLAVA_JUDGE_KEY';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

interface EvalCliOptions {
  model?: string;
  pack: string;
  task: Task;
  split?: SplitName;
  valFraction: number;
  limit?: number;
  batch: number;
  json?: boolean;
  out?: string;
  judge?: string;
  judgeModel: string;
  maxNewTokens?: number;
  labelRules: boolean;
  labelHeads: boolean;
  headWeight?: number;
  mirror?: boolean;
  fullVocab?: boolean;
  seed: number;
  aus: AuSelection;
  crop: CropMode;
  data: string;
  threads?: number;
}

/** `--aus`: present, disfa, bp4d or a comma-separated list of AU numbers. */
function auSelection(value: string): AuSelection {
  try {
    return parseAuSelection(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `2025-01-31T12-05-09`: sortable and safe in file names. */
function timestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** What answers: a model directory, or a baseline (`npm:human`, `npm:face-api`), and what its run records. */
interface LoadedAnswerer {
  /** metrics.json's `model`: the directory, or the baseline's name as given. */
  name: string;
  answerer: Answerer;
  generation: EvalGeneration | null;
  /** Frames sampled from a video. */
  frames: number;
  dispose(): Promise<void>;
}

async function loadAnswerer(o: EvalCliOptions, log: (line: string) => void): Promise<LoadedAnswerer> {
  if (isBaselineName(o.model)) {
    // Refuse an unsupported task before any network loads.
    checkBaselineTask(o.model, o.task);
    log(`loading the baseline ${o.model}`);
    const baseline = await loadBaseline(o.model, o.task, { threads: o.threads });
    if (o.judge) log('warning: a baseline answers with its label only; the judge has no reasoning to rate');
    return { name: o.model, answerer: baseline.answerer, generation: null, frames: BASELINE_VIDEO_FRAMES, dispose: baseline.dispose };
  }
  const modelDir = resolveModelDir(o.model);
  log(`loading the model from ${modelDir}`);
  const pretrained = await loadPretrained(modelDir, { threads: o.threads, fullVocab: o.fullVocab });
  const { tasks, generation, face_llava: modelConfig } = pretrained.config;
  if (!tasks.includes(o.task)) log(`warning: the model was trained for ${tasks.join(', ')}, not ${o.task}`);
  return {
    name: modelDir,
    answerer: modelAnswerer(pretrained, { maxNewTokens: o.maxNewTokens, labelRules: o.labelRules, labelHeads: o.labelHeads, headWeight: o.headWeight, mirror: o.mirror }),
    generation: {
      ...generation,
      max_new_tokens: o.maxNewTokens ?? generation.max_new_tokens,
      label_rules: o.labelRules,
      ...(o.labelRules && o.labelHeads && pretrained.labelHeads?.head(o.task) && { label_heads: o.headWeight ?? pretrained.labelHeads.head(o.task)!.weight ?? pretrained.labelHeads.weight }),
      mirror: o.mirror ?? pretrained.config.mirror, output_vocab: o.fullVocab ? null : (pretrained.config.output_vocab?.length ?? null) },
    frames: modelConfig.frames_per_video,
    dispose: () => pretrained.dispose(),
  };
}

async function evaluate(o: EvalCliOptions, io: CliIo): Promise<void> {
  const log = (line: string) => io.stderr(`${line}\n`);
  const created = new Date();
  const out = resolve(o.out ?? join('runs', `eval-${basename(o.pack).replace(/\.csv$/i, '')}-${o.task}-${timestamp(created)}`));

  if (o.task !== 'au' && o.aus !== PRESENT_AUS) throw new Error(`--aus applies to --task au, not ${o.task}`);
  const loaded = await loadAnswerer(o, log);
  try {
    const judge = o.judge ? new ReasoningJudge(new ChatClient({ baseUrl: o.judge, model: o.judgeModel, apiKey: process.env[JUDGE_KEY_ENV] })) : undefined;
    const expert = await createFaceExpert();
    try {
      log(`evaluating ${o.task} on ${o.pack}${o.split !== undefined ? ` (split ${o.split})` : ''}${o.limit !== undefined ? `, at most ${o.limit} samples` : ''}`);
      const result = await runEval({
        task: o.task,
        pack: o.pack,
        dataRoot: o.data,
        split: o.split,
        valFraction: o.valFraction,
        limit: o.limit,
        batch: o.batch,
        seed: o.seed,
        aus: o.aus,
        faces: expertFaceReader(expert, { crop: o.crop, frames: loaded.frames }),
        answerer: loaded.answerer,
        judge,
        onProgress: (p) =>
          log(`${p.done}${o.limit !== undefined ? `/${o.limit}` : ''} answered, ${p.unreadable} unreadable, ${p.skipped} skipped, ${(p.elapsedMs / 1000 / p.done).toFixed(2)} s per sample`),
        onSkip: (s) => log(`skipped ${s.file}: ${s.reason}`),
      });
      if (result.split !== null) log(`data: ${result.source}, ${describeSplit(result.split, result.splitAssignment)}`);
      if (judge) log('waiting for the judge');
      const metrics = await writeEvalOutputs(out, result, {
        model: loaded.name,
        generation: loaded.generation,
        seed: o.seed,
        created,
        crop: o.crop,
        limit: o.limit ?? null,
      });
      if (o.json) io.stdout(JSON.stringify(metrics, null, 2) + '\n');
      else {
        const numbers = headlines(result.score).map((h) => `${h.name} ${h.value === null ? 'n/a' : h.value.toFixed(3)}`);
        io.stdout(`${o.task} on ${result.source}: ${metrics.n} samples, ${numbers.join(', ')}, unreadable ${(100 * metrics.unreadable).toFixed(1)} %\n`);
        if (result.judge?.mean) {
          io.stdout(`reasoning (${result.judge.model}): ${Object.entries(result.judge.mean).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}\n`);
        }
        io.stdout(`${join(out, OUTPUT_FILES.report)}\n`);
      }
      // The run's outputs are written either way; a judge that rated nothing is still a failure to report.
      if (result.judge && result.judge.rated === 0) {
        const reason = result.predictions.find((p) => p.judge && !p.judge.ok)?.judge;
        throw new Error(`the judge rated none of the answers${reason && !reason.ok ? ` (${reason.reason})` : ''}`);
      }
    } finally {
      expert.dispose();
    }
  } finally {
    await loaded.dispose();
  }
}

export function evalCommand(io: CliIo = processIo): Command {
  return new Command('eval')
    .description("answer a task's evaluation instruction on a data pack and score the answers with the paper's metrics")
    .requiredOption('--pack <pack>', 'a pack name (fer2013, ckplus, celeba, utkface, realorfake) or a folder of labelled images')
    .addOption(new Option('--task <task>', 'the task to evaluate').choices(TASKS).makeOptionMandatory())
    .option(
      '--model <dir>',
      `the model directory (default ${DEFAULT_MODEL_DIR}), or a baseline: ${BASELINE_NAMES.join(' or ')}, the face models shipped in that npm ` +
        'package (expression and age only), answering on the same face crops',
    )
    .addOption(
      new Option(
        '--split <name>',
        'only the rows of this split, as `face-llava data build` assigns them (default: all rows): the pack\'s own split ' +
          'column, except where a source names subjects (ckplus, which has no val rows of its own): there a fixed hash of ' +
          'each subject sends --val-fraction of subjects to val, the same subjects the build sends there, so no subject ' +
          'evaluated was trained on',
      ).choices(SPLIT_NAMES),
    )
    .option('--val-fraction <x>', "the share of subjects (or files, for sources without splits) the split assignment sends to val; the build's --val-fraction", fraction, DEFAULT_VAL_FRACTION)
    .option('--limit <n>', 'at most n samples: a fixed hash sample of the split (the same images for every model)', integer(1))
    .option('--batch <n>', 'answers generated together', integer(1), 4)
    .option('--out <dir>', 'output folder (default runs/eval-<pack>-<task>-<timestamp>)')
    .option('--json', 'print metrics.json on stdout')
    .option('--judge <url>', `rate the reasoning with an OpenAI-compatible API at this root (key from $${JUDGE_KEY_ENV})`)
    .option('--judge-model <name>', 'the judge model', 'gpt-4o-mini')
    .option('--max-new-tokens <n>', "cap on the answer's length (default: the model's setting)", integer(1))
    .option('--seed <n>', 'sampling seed of the first sample; sample k uses seed + k', integer(0), 0)
    .addOption(
      new Option(
        '--aus <set>',
        "the AUs an au evaluation scores, F1 each, then their mean: present (those that occur in the split's ground truth), " +
          "disfa (DISFA's 1,2,4,6,9,12,25,26), bp4d (BP4D's 1,2,4,6,7,10,12,14,15,17,23,24) or a list such as 1,2,4; " +
          "the means over DISFA's and BP4D's AUs among those scored are reported beside it",
      )
        .argParser(auSelection)
        .default(PRESENT_AUS, 'present'),
    )
    .option('--no-label-rules', "sample the label's tokens like the rest of the answer instead of choosing them by the task's decision rule (age: the median of the model's distribution; attributes: each one the model gives better than even odds)")
    .option('--no-label-heads', "leave the model's label heads out of the decision rules: the decoder alone chooses the label (the paper's protocol)")
    .addOption(new Option('--head-weight <w>', "the label heads' share of the pooled decision, 0 to 1 (default: the model's label_heads.weight)").argParser(fraction))
    .option('--mirror', "encode each face with its mirror image and average their visual tokens (test-time augmentation; default: the model's setting)")
    .option('--no-mirror', 'encode each face as it is only')
    .option('--full-vocab', "compute every token's logit even where the model lists an output vocabulary (config.json's output_vocab)")
    .addOption(
      new Option('--crop <mode>', 'detect: crop the main face as `data build` does (the whole picture where none is found); whole: the whole picture is the crop')
        .choices(CROP_MODES)
        .default('detect'),
    )
    .option('--data <dir>', 'where pack names are looked up', DEFAULT_DATA_ROOT)
    .option('--threads <n>', 'onnxruntime threads (default: all cores)', integer(1))
    .action(async (options: EvalCliOptions) => evaluate(options, io));
}
