// `face-llava heads`: fits a model's label heads (model/label-heads.ts, train/label-heads.ts) to FaceInstruct
// training records and stores them in the model directory — in place, or in a copy with --out.
import { cp } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { HEAD_TASKS, isHeadTask, type HeadTask } from '../model/label-heads.js';
import { fitLabelHeads, storeLabelHeads } from '../train/label-heads.js';
import { fraction, integer } from './options.js';

interface HeadsCliOptions {
  model: string;
  data: string[];
  cache: string;
  out?: string;
  tasks?: string;
  weight: number;
  hidden?: number;
  threads?: number;
}

export function registerHeadsCommand(program: Command): void {
  program
    .command('heads')
    .description("fit the model's label heads: each task's label read off the pooled encoder features (linearly, or through a hidden layer), pooled with the decoder's own choice when it answers")
    .addHelpText(
      'after',
      `
The heads read the frozen encoder's tokens averaged over the grid (and the mirror, where the model reads it), as the
model sees a face when it answers. Per task, a logistic regression on the standardized features, its L2 strength
picked by held-out log-loss on a fifth of the images (by subject where the records name one) from 10, 1, 0.1,
0.01, 0.001 — and on by factors of 10 past an end that scores best:
  expression   one class of the expressions the data labels
  au           each AU with at least 10 training images showing it, each with the threshold F1 calls
               for (half the best F1 it reaches on the held-out fold) instead of ½
  attributes   each of CelebA's 40 attributes
  deepfake     one class of real and fake
  age          one of the ages the data labels, fitted to a spread of years around each face's age
               (σ = max(1, age/10)); the age rule takes the median of the pooled distribution
With --hidden H, a hidden ReLU layer of H units comes first, fitted by AdamW with input dropout for the number of
epochs (up to 12) that scores best on the same held-out fold.
When the model answers a task's question, its decision rule pools the head with the decoder (--weight w, kept
with the heads fitted now): log p = (1 − w)·log p_decoder + w·log p_head; the decoder writes the rest of the
answer. Heads the model has for other tasks are kept.

Examples:
  face-llava heads --model models/default --data fi/fer2013-expression fi/ckplus-expression fi/ckplus-au fi/celeba-attributes --cache fi/features
  face-llava heads --model runs/ft/model --data fi/ --cache fi/features --tasks expression --out runs/ft-heads`,
    )
    .requiredOption('--model <dir>', 'the model directory (written in place unless --out is given)')
    .requiredOption('--data <paths...>', 'FaceInstruct JSONL files or folders of shards (records of split train)')
    .requiredOption('--cache <dir>', "where encoder features are cached (the trainer's --cache: what it cached is read, not recomputed)")
    .option('--out <dir>', 'write a copy of the model directory with the heads here instead')
    .option('--tasks <list>', `comma-separated tasks to fit (default: each of ${HEAD_TASKS.join(', ')} that --data labels)`)
    .addOption(new Option('--weight <w>', "the fitted heads' share of the pooled decision, 0 (decoder alone) to 1 (heads alone); kept with them where the model's other heads have another").argParser(fraction).default(0.5))
    .option('--hidden <units>', 'a hidden ReLU layer of this many units before each fitted head (AdamW with input dropout ½, stopped at the epoch, of up to 12, that scores best on the held-out fold); default: none, logistic regression', integer(1))
    .option('--threads <n>', 'onnxruntime threads (default: all cores)', integer(1))
    .action(async (o: HeadsCliOptions) => {
      let tasks: HeadTask[] | undefined;
      if (o.tasks !== undefined) {
        const names = o.tasks.split(',').map((t) => t.trim());
        const bad = names.find((t) => !isHeadTask(t));
        if (bad !== undefined) throw new Error(`--tasks: ${bad} has no head (tasks with heads: ${HEAD_TASKS.join(', ')})`);
        tasks = names as HeadTask[];
      }
      const fitted = await fitLabelHeads({
        model: o.model,
        data: o.data,
        cache: o.cache,
        tasks,
        weight: o.weight,
        hidden: o.hidden,
        threads: o.threads,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const dir = resolve(o.out ?? o.model);
      if (o.out !== undefined) await cp(resolve(o.model), dir, { recursive: true, errorOnExist: true, force: false });
      const stored = await storeLabelHeads(dir, fitted.heads, o.weight);
      const { heads } = stored;
      for (const r of fitted.reports) {
        const tried = r.heldOut.map((h) => `${h.epoch !== undefined ? `epoch ${h.epoch}` : `λ ${h.lambda}`}: ${h.logLoss.toFixed(4)}`).join(', ');
        const fit = r.hidden ? `hidden ${r.hidden}, ${r.epochs} epochs` : `λ ${r.lambda}`;
        process.stdout.write(`${r.task}: ${r.labels.length} labels, ${r.examples} examples (${r.images} images), ${fit}${tried ? ` (held-out log-loss ${tried})` : ''}\n`);
      }
      process.stdout.write(`wrote the label heads of ${dir}: ${[...heads].map(([task, h]) => `${task} (weight ${h.weight ?? stored.weight})`).join(', ')}\n`);
    });
}
