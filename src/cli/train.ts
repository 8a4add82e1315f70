// `face-llava train`: the paper's two training stages (SPEC §3) on FaceInstruct JSONL, into a run folder
// (src/train/run-folder.ts) that ends with a model directory for `face-llava eval` and `analyze`. Progress on
// stderr, the trained model's path on stdout. Ctrl-C stops after the current update with a checkpoint;
// `--resume` continues a stopped or killed run to the result it would have had.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseFaceLlavaConfig } from '../model/config.js';
import { usesLandmarks } from '../model/face-llava.js';
import { CONFIG_FILE_NAME, defaultModelDirConfig } from '../model/pretrained.js';
import { Progress } from '../train/progress.js';
import { readRunSettings } from '../train/run-folder.js';
import { parseStages } from '../train/stages.js';
import { train, type TrainOptions } from '../train/trainer.js';
import { integer, positive, shareBelowOne } from './options.js';

interface TrainCliOptions {
  data?: string[];
  out: string;
  /** Unset: `both`, or `2` for a model without a landmark branch (defaultStages). */
  stage?: string;
  init?: string;
  config?: string;
  epochs: number;
  batch: number;
  accum: number;
  lr?: number;
  maxSteps?: number;
  checkpointEvery: number;
  saveDtype?: 'float16' | 'bfloat16';
  resume?: boolean;
  seed: number;
  val?: string[];
  valEvery?: number;
  sourceMin?: number;
  sourceMax?: number;
  balanceLabels?: boolean;
  encoderLrScale?: number;
  leadWeight?: number;
  featureDropout?: number;
  mirrorViews?: boolean;
  cache?: string;
  threads?: number;
}

/**
 * With --resume, the settings the run was started with fill in whatever the command line leaves out
 * (`face-llava train --out run --resume` is enough); settings given that differ are refused by the trainer.
 */
/** `--config`: a config.json, or `default` for the default model's (faceres encoder, DEFAULT_MODEL_CONFIG). */
async function readConfig(spec: string): Promise<TrainOptions['config']> {
  if (spec === 'default') return defaultModelDirConfig();
  return JSON.parse(await readFile(spec, 'utf8')) as TrainOptions['config'];
}

/**
 * The stages a run without --stage trains: the paper's two, but only stage 2 for a model without a landmark branch
 * (cross_attn `none`, as the default model's), which stage 1 would leave untouched.
 */
async function defaultStages(init: string | undefined, config: TrainOptions['config']): Promise<string> {
  const modelConfig = init ? (JSON.parse(await readFile(resolve(init, CONFIG_FILE_NAME), 'utf8')) as TrainOptions['config']) : config;
  if (!modelConfig) return 'both'; // the trainer says what is missing
  return usesLandmarks(parseFaceLlavaConfig(modelConfig.face_llava)) ? 'both' : '2';
}

async function withStoredSettings(o: TrainCliOptions, given: (key: keyof TrainCliOptions) => boolean): Promise<TrainCliOptions & { storedConfig?: unknown }> {
  const stored = o.resume ? await readRunSettings(resolve(o.out)) : null;
  if (!stored) return o;
  const pick = <K extends keyof TrainCliOptions>(key: K, value: TrainCliOptions[K]) => (given(key) ? o[key] : value);
  return {
    ...o,
    data: pick('data', stored.data),
    stage: pick('stage', stored.stages.join(',')),
    init: pick('init', stored.init ?? undefined),
    epochs: pick('epochs', stored.epochs),
    batch: pick('batch', stored.batch),
    accum: pick('accum', stored.accum),
    lr: pick('lr', stored.lr ?? undefined),
    maxSteps: pick('maxSteps', stored.max_steps ?? undefined),
    seed: pick('seed', stored.seed),
    val: pick('val', stored.val.length ? stored.val : undefined),
    valEvery: pick('valEvery', stored.val_every ?? undefined),
    sourceMin: pick('sourceMin', stored.source_min ?? undefined),
    sourceMax: pick('sourceMax', stored.source_max ?? undefined),
    balanceLabels: pick('balanceLabels', stored.balance_labels ?? undefined),
    encoderLrScale: pick('encoderLrScale', stored.encoder_lr_scale ?? undefined),
    leadWeight: pick('leadWeight', stored.lead_weight ?? undefined),
    featureDropout: pick('featureDropout', stored.feature_dropout ?? undefined),
    mirrorViews: pick('mirrorViews', stored.mirror_views ?? undefined),
    storedConfig: given('config') || stored.init ? undefined : stored.config,
  };
}

export function trainCommand(): Command {
  const command = new Command('train');
  return command
    .description("train Face-LLaVA on FaceInstruct JSONL with the paper's recipe, into a run folder ending in a model directory")
    .addHelpText(
      'after',
      `
Stages (AdamW, cosine schedule with 3 % warm-up, next-token loss on the answer tokens only; the encoder is frozen
and its features are computed once):
  1         face-region pre-training: FRLP and FRGCA, lr 1e-4 (projector and decoder frozen)
  2         fine-tuning: FRLP, FRGCA, projector and decoder, lr 2e-5
  pretrain  projector, decoder, FRLP and FRGCA from scratch, lr 1e-3: a decoder trained here has no
            Vicuna to start from (this project's addition to the recipe)

Examples:
  face-llava train --data faceinstruct/ --init models/base --out runs/ft
  face-llava train --data faceinstruct/ --config model.json --stage pretrain,1,2 --out runs/scratch
  face-llava train --out runs/ft --resume`,
    )
    .option('--data <paths...>', 'FaceInstruct JSONL files or folders of shards (records of split train)')
    .requiredOption('--out <dir>', 'the run folder: checkpoint/, log.jsonl, loss.svg, and model/ at the end')
    .option('--stage <stages>', '1, 2, both (= 1,2), pretrain, or a comma-separated sequence (default: both; 2 for a model without a landmark branch)')
    .option('--init <dir>', 'the model directory to start from (needed unless the first stage is pretrain)')
    .option('--config <file>', "without --init: a model directory config.json to train from scratch, or `default` for the default model's")
    .option('--epochs <n>', 'epochs per stage', integer(1), 1)
    .option('--batch <n>', 'examples per micro-batch', integer(1), 8)
    .option('--accum <n>', 'micro-batches per update (gradient accumulation)', integer(1), 1)
    .option('--lr <x>', "peak learning rate of every stage (default: each stage's own)", positive)
    .option('--max-steps <n>', 'at most n updates per stage (the schedule fits them)', integer(1))
    .option('--checkpoint-every <n>', 'updates between checkpoints', integer(1), 100)
    .addOption(new Option('--save-dtype <type>', 'store the model directory float32 weights as float16 or bfloat16 (half the size)').choices(['float16', 'bfloat16']))
    .option('--resume', 'continue the run in --out from its last checkpoint (its settings fill in the rest)')
    .option('--seed <n>', 'seed of the data order and of weights trained from scratch', integer(0), 0)
    .option('--val <paths...>', 'validation JSONL files or folders (records of split val)')
    .option('--val-every <n>', 'updates between validations (also at the end of each stage)', integer(1))
    .option('--source-min <n>', 'examples each --data path gives an epoch at least: smaller sources are repeated (balances small tasks)', integer(1))
    .option('--source-max <n>', 'examples each --data path gives an epoch at most: larger sources are subsampled afresh each epoch', integer(1))
    .option('--balance-labels', 'spread each single-label source (expression, real/fake) equally over its labels every epoch')
    .option('--encoder-lr-scale <x>', "an encoder trained from a split (config encoder.train_from): its tail's share of the stage's learning rate (default: 0.1)", positive)
    .option('--lead-weight <k>', "count each answer's first sentence, where FaceInstruct states the label, k times in the loss (default: 1)", integer(1))
    .option('--feature-dropout <p>', "zero this share of the encoder's tokens in each training batch, the rest scaled by 1/(1-p) (default: 0; validation and inference read them whole)", shareBelowOne)
    .option('--mirror-views', "train each example on its crops as they are or mirrored (grid flipped back), at even odds: the two views a model with mirror averages when it answers (caches both)")
    .option('--cache <dir>', 'where encoder features are cached (default <out>/cache)')
    .option('--threads <n>', 'onnxruntime threads (default: all cores)', integer(1))
    .action(async (cli: TrainCliOptions) => {
      const o = await withStoredSettings(cli, (key) => command.getOptionValueSource(key) === 'cli');
      if (!o.data?.length) throw new Error('--data is required (the JSONL to train on)');
      const config = o.config ? await readConfig(o.config) : (o.storedConfig as TrainOptions['config']);
      const stages = o.stage ?? (await defaultStages(o.init, config));
      const progress = new Progress(process.stderr);
      const abort = new AbortController();
      const stop = () => {
        if (abort.signal.aborted) process.exit(130); // a second Ctrl-C does not wait for the update
        progress.onEvent({ type: 'info', message: 'stopping after this update (Ctrl-C again to quit at once)' });
        abort.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        const result = await train({
          data: o.data,
          out: o.out,
          stages: parseStages(stages),
          init: o.init,
          config,
          epochs: o.epochs,
          batch: o.batch,
          accum: o.accum,
          lr: o.lr,
          encoderLrScale: o.encoderLrScale,
          leadWeight: o.leadWeight,
          featureDropout: o.featureDropout,
          mirrorViews: o.mirrorViews,
          maxSteps: o.maxSteps,
          checkpointEvery: o.checkpointEvery,
          saveDtype: o.saveDtype,
          resume: o.resume,
          seed: o.seed,
          val: o.val,
          valEvery: o.valEvery,
          mix: { min: o.sourceMin, max: o.sourceMax, balanceLabels: o.balanceLabels },
          cache: o.cache,
          threads: o.threads,
          signal: abort.signal,
          onEvent: progress.onEvent,
        });
        progress.done();
        if (result.interrupted) {
          process.stderr.write(`stopped; \`face-llava train --out ${o.out} --resume\` continues\n`);
          process.exitCode = 130;
        } else process.stdout.write(`${result.model}\n`);
      } finally {
        progress.done();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
