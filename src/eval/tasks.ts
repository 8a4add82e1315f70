// Each task as the evaluation sees it (SPEC §1): the fixed instruction the model is asked, the label read out of
// its answer (./extract.ts), and the paper's metrics over those readings (./metrics.ts).
import type { Task, TaskLabel } from '../data/build/types.js';
import type { AttributeReadings, CelebaAttribute } from '../data/labels/attributes.js';
import { CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import { AUTHENTICITY, type Authenticity } from '../data/labels/deepfake.js';
import { EXPRESSIONS, type Expression } from '../data/labels/expression.js';
import { extractActionUnits, extractAge, extractAttributes, extractAuthenticity, extractExpression } from './extract.js';
import {
  ageReport,
  attributeReport,
  auReport,
  classificationReport,
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

export type TaskScore =
  | { task: 'expression'; report: ClassificationReport<Expression> }
  | { task: 'deepfake'; report: ClassificationReport<Authenticity> }
  | { task: 'au'; report: AuReport }
  | { task: 'attributes'; report: AttributeReport }
  | { task: 'age'; report: AgeReport };

function attributeFlags(present: readonly CelebaAttribute[]): Record<CelebaAttribute, boolean> {
  const set = new Set(present);
  return Object.fromEntries(CELEBA_ATTRIBUTES.map((name) => [name, set.has(name)])) as Record<CelebaAttribute, boolean>;
}

/**
 * The task's metrics over ground truth and readings (null: unreadable). Expression is scored over all eight
 * classes (a class absent from the ground truth has no recall and stays out of the UAR, but predicting it is still
 * an error); AUs over those that occur in the ground truth, as benchmarks score the AUs their test set annotates.
 */
export function scoreTask(task: Task, truth: readonly Truth[], readings: readonly (Reading | null)[]): TaskScore {
  switch (task) {
    case 'expression':
      return { task, report: classificationReport(truth as Expression[], readings as (Expression | null)[], EXPRESSIONS) };
    case 'deepfake':
      return { task, report: classificationReport(truth as Authenticity[], readings as (Authenticity | null)[], AUTHENTICITY) };
    case 'au': {
      const aus = [...new Set((truth as number[][]).flat())].sort((a, b) => a - b);
      return { task, report: auReport(truth as number[][], readings as (number[] | null)[], aus) };
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
    case 'au':
      return [{ key: 'mean_f1', name: 'mean F1', value: score.report.meanF1, better: 'higher' }];
    case 'attributes':
      return [{ key: 'mean_accuracy', name: 'mean accuracy', value: score.report.meanAccuracy, better: 'higher' }];
    case 'age':
      return [{ key: 'mae', name: 'MAE in years', value: score.report.mae, better: 'lower' }];
  }
}
