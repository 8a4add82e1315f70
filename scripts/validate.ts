// The model card's validation table, reproducible by one command: every validation run of scripts/validation.ts
// (`face-llava eval --split val` on each pack) for each model given, printed as a Markdown table, one column a
// model. The npm baselines (`npm:human`, `npm:face-api`) answer only the tasks they have (expression and age).
//
//   npx tsx scripts/validate.ts --model models/default [--model runs/x/model npm:face-api …]
//     [--out runs/validate] [--runs fer2013,celeba,…] [--crop detect|whole] [--threads 2]
//
// A model may carry eval options after `@`, its own column: `models/default@--no-mirror@--no-label-rules`.
//
// Each model's evals go into <out>/<model as a file name>[-whole]/: a run whose metrics JSON is there is not
// rerun, so an interrupted validation continues where it stopped. The CLI is run from dist/ (npm run build first).
//
// With two models or more, a second table compares each with the first, image by image on the same images
// (src/eval/compare.ts): the headline's difference with a 95 % paired-bootstrap interval, and for single-label
// tasks the images lost and gained with McNemar's exact p.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { comparePredictions } from '../src/eval/compare.js';
import type { PredictionRecord } from '../src/eval/run.js';
import { MODEL_CARD_RUNS, sampleOf, validate, withCrop, type ValidationRun } from './validation.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', multiple: true },
    out: { type: 'string', default: 'runs/validate' },
    runs: { type: 'string', default: MODEL_CARD_RUNS.map((r) => r.name).join(',') },
    crop: { type: 'string', default: 'detect' },
    threads: { type: 'string', default: String(Math.max(1, os.availableParallelism())) },
  },
});
// `--model a b` as the CLI takes it: the models after the first --model arrive as positionals.
const models = [...(a.model ?? []), ...positionals];
if (!models.length) throw new Error('usage: scripts/validate.ts --model <model dir | npm:human | npm:face-api>… [--runs fer2013,…]');
if (a.crop !== 'detect' && a.crop !== 'whole') throw new Error(`--crop: detect or whole, not ${a.crop}`);
const runs = a.runs.split(',').map((name) => {
  const r = MODEL_CARD_RUNS.find((x) => x.name === name);
  if (!r) throw new Error(`unknown run ${name}: one of ${MODEL_CARD_RUNS.map((x) => x.name).join(', ')}`);
  return withCrop(r, a.crop as 'detect' | 'whole');
});

const isBaseline = (model: string) => model.startsWith('npm:');
/** The tasks the npm libraries' own networks answer (src/eval/baselines). */
const baselineAnswers = (r: ValidationRun) => r.task === 'expression' || r.task === 'age';
/** A model argument's directory (or baseline) and the eval options after its `@`s. */
const parseModel = (model: string) => {
  const [dir, ...options] = model.split('@--');
  return { dir, options: options.map((o) => `--${o}`) };
};
const folderOf = (model: string) => {
  const { dir, options } = parseModel(model);
  const base = isBaseline(dir) ? dir.replace(':', '-') : resolve(dir).replace(/^\//, '').replace(/[^\w.-]+/g, '_');
  return base + options.map((o) => o.slice(1)).join('') + (a.crop === 'whole' ? '-whole' : '');
};

const cells = new Map<string, string>();
for (const model of models) {
  for (const r of runs) {
    if (isBaseline(model) && !baselineAnswers(r)) continue;
    console.error(`validate: ${model} — ${r.name}`);
    const { dir, options } = parseModel(model);
    const m = await validate(dir, r, join(resolve(a.out), folderOf(model)), a.threads, options);
    const value = m.metrics[r.metric];
    const text = value === null || value === undefined ? '–' : value.toFixed(r.metric === 'mae' ? 2 : 3);
    cells.set(`${model}\t${r.name}`, `${text}${m.unreadable > 0 ? ` (${(m.unreadable * 100).toFixed(1)} % unreadable)` : ''}`);
    cells.set(`n\t${r.name}`, String(m.n));
  }
}

const lines = [
  `| run | sample | n | ${models.join(' | ')} |`,
  `| --- | --- | --- | ${models.map(() => '---').join(' | ')} |`,
  ...runs.map(
    (r) =>
      `| ${r.label} | \`${sampleOf(r)}\` | ${cells.get(`n\t${r.name}`) ?? '–'} | ${models.map((m) => cells.get(`${m}\t${r.name}`) ?? '–').join(' | ')} |`,
  ),
];
console.log(lines.join('\n'));

const predictions = async (model: string, r: ValidationRun) =>
  (await readFile(join(resolve(a.out), folderOf(model), r.name, 'predictions.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as PredictionRecord);
const [first, ...others] = models;
const rows: string[] = [];
let resamples = 0;
for (const model of others) {
  for (const r of runs) {
    if (!cells.has(`${first}\t${r.name}`) || !cells.has(`${model}\t${r.name}`)) continue;
    // Validation runs score AUs on those that occur (eval's default), as comparePredictions does.
    const c = comparePredictions(r.task, await predictions(first, r), await predictions(model, r));
    const digits = r.metric === 'mae' ? 3 : 4;
    const f = (v: number | null) => (v === null ? '–' : v.toFixed(digits));
    const signed = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(digits);
    const diff = c.difference === null ? '–' : `${signed(c.difference)}${c.interval ? ` [${signed(c.interval[0])}, ${signed(c.interval[1])}]` : ''}`;
    const flips = c.lost === undefined ? '' : `${c.lost} / ${c.gained} (p ${c.mcnemarP!.toFixed(3)})`;
    resamples = c.resamples;
    rows.push(`| ${model} | ${r.label} | ${c.n} | ${f(c.a)} | ${f(c.b)} | ${diff} | ${flips} |`);
  }
}
if (rows.length) {
  console.log(`\nPaired against ${first}, on the images both answered (95 % bootstrap interval over images, ${resamples} resamples; images of one subject are not independent, so CK+'s intervals are too narrow):\n`);
  console.log(['| model | run | n | first | this | difference [95 %] | lost / gained (McNemar p) |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n'));
}
