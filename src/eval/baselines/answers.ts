// What a baseline is and how it speaks: a library's face networks answer the evaluation's questions with one short
// sentence that the evaluation's own label extraction reads (./../extract.ts), so a baseline is scored by exactly
// the path a generated answer takes. They have no reasoning to give; the judge has nothing to rate in them.
import type { Task } from '../../data/build/types.js';
import { MAX_AGE, MIN_AGE } from '../../data/labels/age.js';
import type { Expression } from '../../data/labels/expression.js';
import type { RgbImage } from '../../face/rgb.js';
import type { Answerer, Question } from '../run.js';
import { argmax } from '../../text/sampling.js';

/** The tasks baselines can have. */
export type BaselineTask = Extract<Task, 'expression' | 'age'>;

/** A library's networks for some tasks, on face crops (one crop per frame). */
export interface BaselinePredictor {
  /** The registry's name, e.g. `npm:human`. */
  readonly name: string;
  /** Per crop, a probability per class, in `classes` order (the project's labels). */
  expression?(crops: readonly RgbImage[]): Promise<{ classes: readonly Expression[]; probabilities: Float32Array[] }>;
  /** Per crop, the age in years as the library reports it (NaN where the library's own decoding gives none). */
  age?(crops: readonly RgbImage[]): Promise<number[]>;
  dispose(): Promise<void>;
}

export function expressionSentence(label: Expression): string {
  return `The facial expression is ${label}.`;
}

/**
 * The age to one decimal, held to the ages a label may have: a regressor can stray below zero on a baby's face,
 * and a number outside that range is read as no age at all.
 */
export function ageSentence(years: number): string {
  if (!Number.isFinite(years)) return 'The age cannot be told.';
  const held = Math.min(MAX_AGE, Math.max(MIN_AGE, years));
  return `The person is about ${Number(held.toFixed(1))} years old.`;
}

/** The class with the highest probability; ties go to the earlier class (the sampler's argmax). */
export { argmax };

/** Results made per crop of all the questions' media, handed back per question (a video has several). */
function perQuestion<T>(questions: readonly Question[], perCrop: readonly T[]): T[][] {
  let at = 0;
  return questions.map((q) => perCrop.slice(at, (at += q.media.crops.length)));
}

function mean(rows: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (const row of rows) for (let k = 0; k < out.length; k++) out[k] += row[k] / rows.length;
  return out;
}

/**
 * The predictor as an Answerer for one task. All the crops of a batch run as one batch. A video's frames are
 * averaged (class probabilities, or ages), since both libraries judge one picture at a time. The seed is ignored:
 * the networks are deterministic.
 */
export function baselineAnswerer(predictor: BaselinePredictor, task: BaselineTask): Answerer {
  const crops = (questions: readonly Question[]) => questions.flatMap((q) => q.media.crops);
  if (task === 'expression') {
    const expression = predictor.expression?.bind(predictor);
    if (!expression) throw new Error(`${predictor.name} has no expression model`);
    return {
      async answer(questions) {
        if (questions.length === 0) return [];
        const { classes, probabilities } = await expression(crops(questions));
        return perQuestion(questions, probabilities).map((frames) => expressionSentence(classes[argmax(mean(frames))]));
      },
    };
  }
  const age = predictor.age?.bind(predictor);
  if (!age) throw new Error(`${predictor.name} has no age model`);
  return {
    async answer(questions) {
      if (questions.length === 0) return [];
      const ages = await age(crops(questions));
      return perQuestion(questions, ages).map((frames) => ageSentence(frames.reduce((sum, a) => sum + a, 0) / frames.length));
    },
  };
}
