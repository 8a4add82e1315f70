// `face-llava data …`: build FaceInstruct instruction-tuning data from labelled faces, list the instruction pools,
// and report on a build's output.
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildFaceInstruct, countSourceRows, TASKS, type BuildOptions, type Task } from '../data/faceinstruct.js';
import { OfflineAnnotator } from '../data/annotators/offline.js';
import { LlmAnnotator } from '../data/annotators/openai.js';
import type { Annotator } from '../data/annotators/types.js';
import { LlmJudge } from '../data/rater/judge.js';
import { ChatClient } from '../data/openai-client.js';
import { instructionPool } from '../data/instructions/index.js';
import { ProgressBar } from '../data/build/progress.js';
import { collectStats, formatStats } from '../data/build/stats.js';
import { DEFAULT_VAL_FRACTION, SPLIT_NAMES, type SplitName } from '../data/build/splits.js';

const positiveInt = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

function rating(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > 10) throw new InvalidArgumentError('must be a number from 1 to 10');
  return n;
}

function part(value: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError('must be K/N with 0 ≤ K < N, e.g. 0/4');
  return { index, count };
}

interface BuildFlags {
  source: string[];
  task: Task;
  out: string;
  annotator: 'offline' | 'openai';
  judge?: boolean;
  minRating: number;
  split?: SplitName;
  limit?: number;
  augment?: number;
  workers: number;
  concurrency?: number;
  seed: string;
  valFraction: number;
  zeroShot?: string[];
  part?: { index: number; count: number };
  shardSize: number;
  cache?: string;
  dataRoot: string;
  openaiBaseUrl: string;
  openaiModel: string;
  judgeModel?: string;
  progress: boolean;
}

/** Malformed rows are listed one per line up to this many, then only counted. */
const LISTED_ISSUES = 20;

async function runBuild(flags: BuildFlags): Promise<void> {
  const client = (model: string): ChatClient =>
    new ChatClient({ baseUrl: flags.openaiBaseUrl, model, apiKey: process.env.OPENAI_API_KEY });
  const annotator: Annotator = flags.annotator === 'openai' ? new LlmAnnotator(client(flags.openaiModel)) : new OfflineAnnotator();
  const options: BuildOptions = {
    sources: flags.source,
    task: flags.task,
    out: flags.out,
    dataRoot: flags.dataRoot,
    annotator,
    judge: flags.judge ? new LlmJudge(client(flags.judgeModel ?? flags.openaiModel)) : undefined,
    minRating: flags.minRating,
    seed: flags.seed,
    split: flags.split,
    limit: flags.limit,
    augment: flags.augment,
    workers: flags.workers,
    concurrency: flags.concurrency,
    valFraction: flags.valFraction,
    zeroShot: flags.zeroShot,
    part: flags.part,
    shardSize: flags.shardSize,
    cacheDir: flags.cache,
  };

  const bar = flags.progress ? new ProgressBar(await countSourceRows(options)) : undefined;
  let issues = 0;
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: the last checkpoint is safe to resume from
    controller.abort();
    (bar?.log.bind(bar) ?? console.error)('interrupted: finishing the rows in flight (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  try {
    const summary = await buildFaceInstruct({
      ...options,
      signal: controller.signal,
      onProgress: (progress) => bar?.update(progress),
      onDrop: (rejection) => {
        if (rejection.reason !== 'malformed') return;
        if (++issues <= LISTED_ISSUES) (bar?.log.bind(bar) ?? console.error)(`skipped ${rejection.id}: ${rejection.detail}`);
      },
    });
    bar?.done();
    if (issues > LISTED_ISSUES) console.error(`… ${issues - LISTED_ISSUES} more malformed rows, listed in ${flags.out}/rejected.jsonl`);
    const dropped = Object.entries(summary.dropped).map(([reason, n]) => `${reason} ${n}`).join(', ');
    console.log(`${flags.out}: ${summary.records} samples from ${summary.consumed} source rows${dropped ? `; dropped: ${dropped}` : ''}`);
    if (controller.signal.aborted) {
      console.error('interrupted; run the same command again to resume');
      process.exitCode = 130;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('build and inspect FaceInstruct instruction-tuning data (SPEC §4)');

  data
    .command('build')
    .description(
      'build instruction-tuning samples from labelled faces: crops and landmarks (cached), descriptions, rule checks,\n' +
        'optional LLM judging; JSONL shards in the released Face-LLaVA format. Rerun the same command to resume.',
    )
    .requiredOption('--source <spec...>', 'pack name (fer2013, ckplus, celeba, utkface, realorfake), all, a pack or CSV folder, a CSV, or a folder per class')
    .addOption(new Option('--task <task>', 'the task to label').choices(TASKS).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output folder (shards, rejected.jsonl, manifest.json, media/)')
    .addOption(new Option('--annotator <kind>', 'who writes the descriptions').choices(['offline', 'openai']).default('offline'))
    .option('--judge', 'rate every sample with an OpenAI-compatible judge and drop low ratings')
    .option('--min-rating <n>', 'drop samples whose mean judge rating is below this', rating, 6)
    .addOption(
      new Option(
        '--split <name>',
        "only the source rows of this split: the pack's own split column; by subject where the source names subjects " +
          '(ckplus: --val-fraction of subjects to val, as `face-llava eval --split` assigns them); per file where it has neither',
      ).choices(SPLIT_NAMES),
    )
    .option(
      '--limit <n>',
      'a sample of this many source rows (of the split), spread over each source by a seeded hash of the row id, not its ' +
        'first rows; the same rows whatever --part (the parts of a limited build share its sample)',
      positiveInt('--limit'),
    )
    .option(
      '--augment <n>',
      'n augmented views of each train image, each its own sample (mirror, small rotation, lower resolution, light, JPEG ' +
        'quality; milder for deepfake); for small sources seen many times an epoch',
      positiveInt('--augment'),
    )
    .option('--workers <n>', 'face analysis threads (1: on the main thread)', positiveInt('--workers'), 1)
    .option('--concurrency <n>', 'samples in flight (default: 2 per worker, at least 4)', positiveInt('--concurrency'))
    .option('--seed <text>', 'seed of every random choice', 'faceinstruct')
    .option('--val-fraction <x>', 'share of subjects (or files) sent to val', fraction, DEFAULT_VAL_FRACTION)
    .option('--zero-shot <source...>', 'leave these sources out entirely')
    .option('--part <K/N>', 'build only part K of N (for spreading a build over machines)', part)
    .option('--shard-size <n>', 'samples per shard', positiveInt('--shard-size'), 10_000)
    .option('--cache <dir>', 'face crop cache (default <out>/media)')
    .option('--data-root <dir>', 'where pack names are found', process.env.FACE_LLAVA_DATA ?? '../shared/data')
    .option('--openai-base-url <url>', 'OpenAI-compatible API root (key: $OPENAI_API_KEY)', process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1')
    .option('--openai-model <name>', 'model of the openai annotator', 'gpt-4o-mini')
    .option('--judge-model <name>', 'model of the judge (default: --openai-model)')
    .option('--no-progress', 'no progress bar')
    .action(runBuild);

  data
    .command('instructions')
    .description('list the instruction pool of a task')
    .addOption(new Option('--task <task>', 'the task').choices(TASKS).makeOptionMandatory())
    .option('--json', 'print JSON')
    .action((flags: { task: Task; json?: boolean }) => {
      const pool = instructionPool(flags.task);
      if (flags.json) console.log(JSON.stringify(pool, null, 2));
      else for (const i of pool) console.log(`${i.id}\t${i.form}${i.yes ? `(yes=${i.yes})` : ''}\t${i.text}`);
    });

  data
    .command('stats')
    .description('counts, label balance and rating histograms of a build')
    .argument('<dir>', 'a build output folder')
    .option('--json', 'print JSON')
    .action(async (dir: string, flags: { json?: boolean }) => {
      const stats = await collectStats(dir);
      console.log(flags.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
    });
}
