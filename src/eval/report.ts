// The outputs of an evaluation run, in one folder: report.md (metrics, the task's detail tables, the chart, judge
// ratings), chart.svg beside it, metrics.json (the numbers, for machines) and predictions.jsonl (one line per
// sample: file, ground truth, answer, label read from it, judge verdict).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { auName } from '../data/labels/action-units.js';
import { CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import type { GenerationDefaults } from '../model/pretrained.js';

/** How a model generated its answers: its generation settings, and whether labels were chosen by the tasks'
 * decision rules (absent in runs made before there were any: sampled). */
/** `output_vocab`: how many tokens the head computed, null for the whole vocabulary. */
export type EvalGeneration = GenerationDefaults & { label_rules?: boolean; label_heads?: number; mirror?: boolean; output_vocab?: number | null };
import { barChart, heatmap, histogram } from './chart.js';
import { REASONING_CRITERIA, type JudgeSummary } from './judge.js';
import type { ClassificationReport } from './metrics.js';
import type { EvalResult, SplitAssignment } from './run.js';
import { headlines, type TaskScore } from './tasks.js';

export const OUTPUT_FILES = { report: 'report.md', chart: 'chart.svg', metrics: 'metrics.json', predictions: 'predictions.jsonl' } as const;

/** What a run was, beyond its results. */
export interface RunInfo {
  /** The model directory, or the baseline's name (`npm:human`). */
  model: string;
  /** How the model generated; null for a baseline, which answers with its label and generates nothing. */
  generation: EvalGeneration | null;
  seed: number;
  created: Date;
  /** How pictures became face crops (run.ts CropMode). */
  crop: string;
  /** The --limit of the hash sample, if any. */
  limit: number | null;
}

/** metrics.json. */
export interface EvalMetrics {
  task: EvalResult['task'];
  source: string;
  split: string | null;
  /** How the split was told apart (see EvalResult); null without a split. */
  splitAssignment: SplitAssignment | null;
  model: string;
  instruction: string;
  created: string;
  generation: EvalGeneration | null;
  seed: number;
  crop: string;
  limit: number | null;
  /** Samples scored. */
  n: number;
  /** Share of answers no label could be read from. */
  unreadable: number;
  /** Samples left out (malformed rows, unreadable media); listed in the report. */
  skipped: number;
  /** The paper's headline numbers, by key (uar, war, accuracy, mean_f1, mean_accuracy, mae); for AUs also the
   * means over the benchmark sets' AUs among those scored (mean_f1_disfa, mean_f1_bp4d). */
  metrics: Record<string, number | null>;
  /** AUs only: which were scored (`present`: those in the ground truth; `disfa`, `bp4d`, or a list). */
  aus?: string;
  /** The full report of src/eval/metrics.ts for the task. */
  report: TaskScore['report'];
  judge?: JudgeSummary;
}

export function evalMetrics(result: EvalResult, info: RunInfo): EvalMetrics {
  return {
    task: result.task,
    source: result.source,
    split: result.split,
    splitAssignment: result.splitAssignment,
    model: info.model,
    instruction: result.instruction,
    created: info.created.toISOString(),
    generation: info.generation,
    seed: info.seed,
    crop: info.crop,
    limit: info.limit,
    n: result.score.report.n,
    unreadable: result.score.report.unreadable,
    skipped: result.skipped.length,
    metrics: Object.fromEntries(headlines(result.score).map((h) => [h.key, h.value])),
    ...(result.score.task === 'au' && { aus: result.score.selection.name }),
    report: result.score.report,
    ...(result.judge && { judge: result.judge }),
  };
}

// ---- Markdown ----

const num = (v: number | null, digits = 3) => (v === null ? 'n/a' : v.toFixed(digits));
const percent = (share: number) => `${(100 * share).toFixed(1)} %`;

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rows: the classes with samples; columns: those classes and any other predicted, then unreadable answers. */
function confusionView<C extends string>(report: ClassificationReport<C>) {
  const total = (i: number) => report.confusion[i].reduce((a, b) => a + b, 0);
  const rowIndex = report.classes.map((_, i) => i).filter((i) => total(i) > 0);
  const columnIndex = report.classes.map((_, j) => j).filter((j) => total(j) > 0 || report.confusion.some((row) => row[j] > 0));
  const unreadable = report.classes.length;
  return {
    rows: rowIndex.map((i) => report.classes[i] as string),
    columns: [...columnIndex.map((j) => report.classes[j] as string), 'unreadable'],
    counts: rowIndex.map((i) => [...columnIndex, unreadable].map((j) => report.confusion[i][j])),
    totals: rowIndex.map(total),
    recalls: rowIndex.map((i) => report.recall[report.classes[i]]),
  };
}

function classificationDetail<C extends string>(report: ClassificationReport<C>): string {
  const view = confusionView(report);
  return [
    '## Per class',
    '',
    table(['class', 'samples', 'recall'], view.rows.map((c, i) => [c, view.totals[i], num(view.recalls[i])])),
    '',
    '## Confusion matrix',
    '',
    'Rows: true class; columns: the class read from the answer.',
    '',
    table(['true \\ predicted', ...view.columns], view.rows.map((c, i) => [c, ...view.counts[i]])),
  ].join('\n');
}

function detail(score: TaskScore): string {
  switch (score.task) {
    case 'expression':
    case 'deepfake':
      return classificationDetail<string>(score.report);
    case 'au':
      return [
        '## Per action unit',
        '',
        `An unreadable answer predicts no AU. ${
          score.selection.aus === null
            ? 'AUs that do not occur in the ground truth are not scored.'
            : `Scored: ${score.selection.title} (${score.selection.aus.join(', ')}); one that neither occurs nor is predicted has no F1 and stays out of the mean.`
        }`,
        '',
        table(
          ['AU', 'name', 'TP', 'FP', 'FN', 'precision', 'recall', 'F1'],
          score.report.perAu.map((s) => [`AU${s.au}`, auName(s.au) ?? '', s.tp, s.fp, s.fn, num(s.precision), num(s.recall), num(s.f1)]),
        ),
      ].join('\n');
    case 'attributes':
      return [
        '## Per attribute',
        '',
        'An attribute an answer does not mention takes the value its silence implies (absent, except No_Beard).',
        '',
        table(['attribute', 'accuracy'], CELEBA_ATTRIBUTES.map((name) => [name, num(score.report.accuracy[name])])),
      ].join('\n');
    case 'age':
      return [
        '## Age',
        '',
        `MAE over the ${score.report.scored} answers an age could be read from (of ${score.report.n}).`,
      ].join('\n');
  }
}

/** The chart of a run: confusion heat map, per-AU F1, per-attribute accuracy, or the histogram of age errors. */
export function chartFor(result: EvalResult): string {
  const { score } = result;
  const title = `${result.task} on ${result.source}`;
  switch (score.task) {
    case 'expression':
    case 'deepfake': {
      const view = confusionView<string>(score.report);
      return heatmap(`${title}: confusion matrix`, view.rows, view.columns, view.counts);
    }
    case 'au':
      return barChart(`${title}: F1 per AU`, score.report.perAu.map((s) => ({ label: `AU${s.au}`, value: s.f1 })));
    case 'attributes':
      return barChart(`${title}: accuracy per attribute`, CELEBA_ATTRIBUTES.map((name) => ({ label: name, value: score.report.accuracy[name] })));
    case 'age': {
      const errors = result.predictions.flatMap((p) => (typeof p.extracted === 'number' ? [p.extracted - (p.truth as number)] : []));
      return histogram(`${title}: predicted − true age`, errors, { binWidth: 5, xLabel: 'error in years (bins of 5)' });
    }
  }
}

function judgeSection(judge: JudgeSummary, n: number): string {
  const failures = [judge.malformed && `${judge.malformed} without valid ratings`, judge.failed && `${judge.failed} failed requests`].filter(Boolean);
  return [
    `## Reasoning ratings (judge: ${judge.model})`,
    '',
    `${judge.rated} of ${n} answers rated${failures.length ? ` (${failures.join(', ')})` : ''}; each criterion from 1 to 10.`,
    '',
    table(
      ['criterion', 'mean'],
      REASONING_CRITERIA.map((c) => [c.replaceAll('_', ' '), judge.mean ? num(judge.mean[c], 2) : 'n/a']),
    ),
  ].join('\n');
}

const SKIPPED_LISTED = 20;

/** The split of a run, and how its rows were told apart, for the report. */
export function describeSplit(split: string | null, assignment: SplitAssignment | null): string {
  if (split === null) return 'all rows';
  if (!assignment) return `split ${split}`;
  const share = `${+(100 * assignment.valFraction).toFixed(2)} %`;
  const how = assignment.by.map((basis) => {
    switch (basis) {
      case 'source':
        return "the source's own split column";
      case 'subject':
        return `assigned by subject, as \`face-llava data build\` assigns it (a fixed hash of each subject sends ${share} of subjects to val), so no subject is in both splits`;
      case 'file':
        return `assigned per file, as \`face-llava data build\` assigns it (a fixed hash of each file sends ${share} of files to val)`;
    }
  });
  return `split ${split} (${how.length > 0 ? how.join('; ') : 'no rows'})`;
}

export function renderReport(metrics: EvalMetrics, result: EvalResult): string {
  const { generation } = metrics;
  const unreadableCount = result.predictions.filter((p) => p.extracted === null).length;
  const parts = [
    `# Evaluation: ${metrics.task} on ${metrics.source}`,
    '',
    `- model: \`${metrics.model}\``,
    `- data: ${metrics.source}, ${describeSplit(metrics.split, metrics.splitAssignment)}${metrics.limit !== null ? `, a hash sample of at most ${metrics.limit}` : ''}; ${metrics.n} samples scored, ${metrics.skipped} skipped; crops: ${metrics.crop}`,
    `- instruction: ${metrics.instruction}`,
    generation
      ? `- generation: temperature ${generation.temperature}, top-k ${generation.top_k}, up to ${generation.max_new_tokens} new tokens, seed ${metrics.seed}${generation.label_rules ? `, labels chosen by the task's decision rule${generation.label_heads != null ? ` with the label heads pooled in (weight ${generation.label_heads})` : ''}` : ', labels sampled'}${generation.mirror ? ', each face averaged with its mirror image' : ''}${generation.output_vocab ? `, tokens from the model's output vocabulary of ${generation.output_vocab}` : ''}`
      : '- generation: none (a baseline answers with its label)',
    `- date: ${metrics.created}`,
    '',
    '## Metrics',
    '',
    table(
      ['metric', 'value'],
      [
        ...headlines(result.score).map((h) => [`${h.name} (${h.better} is better)`, num(h.value)]),
        ['unreadable answers', `${percent(metrics.unreadable)} (${unreadableCount} of ${metrics.n})`],
      ],
    ),
    '',
    `![${metrics.task} chart](${OUTPUT_FILES.chart})`,
    '',
    detail(result.score),
  ];
  if (result.judge) parts.push('', judgeSection(result.judge, metrics.n));
  if (result.skipped.length > 0) {
    const listed = result.skipped.slice(0, SKIPPED_LISTED).map((s) => `- ${s.file}: ${s.reason}`);
    const more = result.skipped.length - listed.length;
    parts.push('', '## Skipped samples', '', ...listed, ...(more > 0 ? [`- … and ${more} more`] : []));
  }
  return parts.join('\n') + '\n';
}

/** Writes the four output files into `dir` (created if needed); returns metrics.json's content. */
export async function writeEvalOutputs(dir: string, result: EvalResult, info: RunInfo): Promise<EvalMetrics> {
  const metrics = evalMetrics(result, info);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, OUTPUT_FILES.predictions), result.predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
  await writeFile(join(dir, OUTPUT_FILES.metrics), JSON.stringify(metrics, null, 2) + '\n');
  await writeFile(join(dir, OUTPUT_FILES.chart), chartFor(result));
  await writeFile(join(dir, OUTPUT_FILES.report), renderReport(metrics, result));
  return metrics;
}
