// Each task as the evaluation sees it (SPEC §1): the fixed instruction the model is asked, the label read out of
// its answer (./extract.ts), and the paper's metrics over those readings (./metrics.ts).
import type { Task, TaskLabel } from '../data/build/types.js';
import type { AttributeReadings, CelebaAttribute } from '../data/labels/attributes.js';
import { CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import { AU_SETS, isActionUnit } from '../data/labels/action-units.js';
import { AUTHENTICITY, type Authenticity } from '../data/labels/deepfake.js';
import { EXPRESSIONS, type Expression } from '../data/labels/expression.js';
import { extractActionUnits, extractAge, extractAttributes, extractAuthenticity, extractExpression } from './extract.js';
import {
  ageReport,
  attributeReport,
  auReport,
  classificationReport,
  meanF1Among,
  type AgeReport,
  type AttributeReport,
  type AuReport,
  type ClassificationReport,
} from './metrics.js';

/**
 * The question asked of every sample, in the paper's style: an open question that asks for the label and the
 * reasoning. `{media}` is "image" or "video".
 */
export const EVAL_INSTRUCTIONS: Readonly<Record<Task, string>> = {
  expression: 'What is the facial expression of the person in this {media}? Explain why.',
  au: 'Which facial action units are active on the face in this {media}? Explain why.',
  attributes: 'Which facial attributes does the person in this {media} have? Explain why.',
  age: 'How old is the person in this {media}? Explain why.',
  deepfake: 'Is this {media} real or fake? Explain why.',
};

export function evalInstruction(task: Task, media: 'image' | 'video'): string {
  return EVAL_INSTRUCTIONS[task].replaceAll('{media}', media);
}

/** What each task reads out of an answer. */
export interface Readings {
  expression: Expression;
  au: number[];
  attributes: AttributeReadings;
  age: number;
  deepfake: Authenticity;
}
export type Reading = Readings[Task];
export type Truth = TaskLabel['value'];

/** The label an answer states for the task, or null when it states none (an unreadable answer). */
export function readAnswer(task: Task, answer: string): Reading | null {
  switch (task) {
    case 'expression':
      return extractExpression(answer);
    case 'au':
      return extractActionUnits(answer);
    case 'attributes':
      return extractAttributes(answer);
    case 'age':
      return extractAge(answer);
    case 'deepfake':
      return extractAuthenticity(answer);
  }
}

/**
 * Which AUs an AU evaluation scores. The paper scores each benchmark on a fixed set (SPEC §1: DISFA's 8, BP4D's
 * 12); a pack without one (CK+) is scored on the AUs that occur in its ground truth.
 */
export interface AuSelection {
  /** `present`, a set's key in AU_SETS (`disfa`, `bp4d`), or the list as written (`1,2,4`). */
  name: string;
  /** In words, for reports: "DISFA's 8 AUs". */
  title: string;
  /** The AUs; null for `present` (those in the ground truth). */
  aus: readonly number[] | null;
}

export const PRESENT_AUS: AuSelection = { name: 'present', title: 'the AUs that occur in the ground truth', aus: null };

/** `present`, `disfa`, `bp4d` or a comma-separated list of FACS AU numbers, as `eval --aus` takes them. */
export function parseAuSelection(text: string): AuSelection {
  const name = text.trim().toLowerCase();
  if (name === 'present') return PRESENT_AUS;
  if (Object.hasOwn(AU_SETS, name)) {
    const set = AU_SETS[name as keyof typeof AU_SETS];
    return { name, title: `${set.title}'s ${set.aus.length} AUs`, aus: set.aus };
  }
  const numbers = name.split(',').map((part) => part.trim().replace(/^au/, ''));
  const aus = numbers.map(Number);
  if (name === '' || aus.some((au, i) => numbers[i] === '' || !Number.isInteger(au) || !isActionUnit(au))) {
    throw new Error(`expected present, ${Object.keys(AU_SETS).join(', ')} or a comma-separated list of FACS AU numbers (1,2,4), not "${text}"`);
  }
  const sorted = [...new Set(aus)].sort((a, b) => a - b);
  return { name: sorted.join(','), title: `AUs ${sorted.join(', ')}`, aus: sorted };
}

export type TaskScore =
  | { task: 'expression'; report: ClassificationReport<Expression> }
  | { task: 'deepfake'; report: ClassificationReport<Authenticity> }
  | { task: 'au'; report: AuReport; selection: AuSelection }
  | { task: 'attributes'; report: AttributeReport }
  | { task: 'age'; report: AgeReport };

function attributeFlags(present: readonly CelebaAttribute[]): Record<CelebaAttribute, boolean> {
  const set = new Set(present);
  return Object.fromEntries(CELEBA_ATTRIBUTES.map((name) => [name, set.has(name)])) as Record<CelebaAttribute, boolean>;
}

/**
 * The task's metrics over ground truth and readings (null: unreadable). Expression is scored over all eight
 * classes (a class absent from the ground truth has no recall and stays out of the UAR, but predicting it is still
 * an error); AUs over `options.aus` (default: those that occur in the ground truth, as benchmarks score the AUs
 * their test set annotates).
 */
export function scoreTask(task: Task, truth: readonly Truth[], readings: readonly (Reading | null)[], options: { aus?: AuSelection } = {}): TaskScore {
  switch (task) {
    case 'expression':
      return { task, report: classificationReport(truth as Expression[], readings as (Expression | null)[], EXPRESSIONS) };
    case 'deepfake':
      return { task, report: classificationReport(truth as Authenticity[], readings as (Authenticity | null)[], AUTHENTICITY) };
    case 'au': {
      const selection = options.aus ?? PRESENT_AUS;
      const aus = selection.aus ?? [...new Set((truth as number[][]).flat())].sort((a, b) => a - b);
      return { task, report: auReport(truth as number[][], readings as (number[] | null)[], aus), selection };
    }
    case 'attributes':
      return { task, report: attributeReport((truth as CelebaAttribute[][]).map(attributeFlags), readings as (AttributeReadings | null)[]) };
    case 'age':
      return { task, report: ageReport(truth as number[], readings as (number | null)[]) };
  }
}

/** One headline number of a task, as the paper reports it. */
export interface Headline {
  /** Its key in metrics.json. */
  key: string;
  name: string;
  value: number | null;
  better: 'higher' | 'lower';
}

export function headlines(score: TaskScore): Headline[] {
  switch (score.task) {
    case 'expression':
      return [
        { key: 'uar', name: 'UAR', value: score.report.uar, better: 'higher' },
        { key: 'war', name: 'WAR', value: score.report.war, better: 'higher' },
      ];
    case 'deepfake':
      return [{ key: 'accuracy', name: 'accuracy', value: score.report.war, better: 'higher' }];
    case 'au': {
      // A pack scored on the AUs it has (CK+ has all 8 of DISFA's and all 12 of BP4D's) also gets the mean over each
      // benchmark set's AUs among them, so that it can be read next to the paper's tables.
      const lines: Headline[] = [{ key: 'mean_f1', name: 'mean F1', value: score.report.meanF1, better: 'higher' }];
      if (score.selection.aus !== null) return lines;
      for (const [key, set] of Object.entries(AU_SETS)) {
        const { meanF1, scored } = meanF1Among(score.report, set.aus);
        if (scored > 0) lines.push({ key: `mean_f1_${key}`, name: `mean F1 over ${set.title}'s AUs (${scored} of ${set.aus.length} scored)`, value: meanF1, better: 'higher' });
      }
      return lines;
    }
    case 'attributes':
      return [{ key: 'mean_accuracy', name: 'mean accuracy', value: score.report.meanAccuracy, better: 'higher' }];
    case 'age':
      return [{ key: 'mae', name: 'MAE in years', value: score.report.mae, better: 'lower' }];
  }
}
