// Benchmark metrics (SPEC §1) over labels read from answers. A prediction of null is an answer no label could be
// read from: every report gives their share as `unreadable`, and each metric says how it scores them.
import { ATTRIBUTES, CELEBA_ATTRIBUTES, type AttributeReadings, type CelebaAttribute } from '../data/labels/attributes.js';

function checkLengths(truth: readonly unknown[], predicted: readonly unknown[]): void {
  if (truth.length !== predicted.length) throw new Error(`${truth.length} ground-truth labels but ${predicted.length} predictions`);
  if (truth.length === 0) throw new Error('no samples to score');
}

function unreadableShare(predicted: readonly unknown[]): number {
  return predicted.filter((p) => p === null).length / predicted.length;
}

// ---- classification: expression (UAR, WAR), deepfake (accuracy) ----

export interface ClassificationReport<C extends string> {
  n: number;
  classes: readonly C[];
  /** Rows: true class, in `classes` order; columns: predicted class, then one last column for unreadable answers. */
  confusion: number[][];
  /** Recall per class; null for a class absent from the ground truth. */
  recall: Record<C, number | null>;
  /** Unweighted average recall: the mean of `recall` over the classes present in the ground truth. */
  uar: number;
  /** Weighted average recall, i.e. accuracy. */
  war: number;
  unreadable: number;
}

/** Classification metrics; an unreadable answer is a wrong one (it counts against its true class's recall). */
export function classificationReport<C extends string>(
  truth: readonly C[],
  predicted: readonly (C | null)[],
  classes: readonly C[],
): ClassificationReport<C> {
  checkLengths(truth, predicted);
  const index = new Map(classes.map((c, i) => [c, i]));
  const confusion = classes.map(() => new Array<number>(classes.length + 1).fill(0));
  truth.forEach((t, i) => {
    const row = index.get(t);
    const p = predicted[i];
    const column = p === null ? classes.length : index.get(p);
    if (row === undefined) throw new Error(`ground-truth label ${t} is not one of ${classes.join(', ')}`);
    if (column === undefined) throw new Error(`predicted label ${p} is not one of ${classes.join(', ')}`);
    confusion[row][column]++;
  });
  const recall = {} as Record<C, number | null>;
  const present: number[] = [];
  let correct = 0;
  classes.forEach((c, i) => {
    const total = confusion[i].reduce((a, b) => a + b, 0);
    correct += confusion[i][i];
    recall[c] = total === 0 ? null : confusion[i][i] / total;
    if (total > 0) present.push(confusion[i][i] / total);
  });
  return {
    n: truth.length,
    classes,
    confusion,
    recall,
    uar: present.reduce((a, b) => a + b, 0) / present.length,
    war: correct / truth.length,
    unreadable: unreadableShare(predicted),
  };
}

// ---- action units: F1 per AU, averaged ----

export interface AuScore {
  au: number;
  tp: number;
  fp: number;
  fn: number;
  /** Null when nothing was predicted (0/0). */
  precision: number | null;
  /** Null when the AU never occurs (0/0). */
  recall: number | null;
  /** 2PR/(P+R), computed as 2TP/(2TP+FP+FN); null when the AU neither occurs nor is predicted. */
  f1: number | null;
}

export interface AuReport {
  n: number;
  perAu: AuScore[];
  /** Mean F1 over the AUs whose F1 is defined; null when none is. */
  meanF1: number | null;
  unreadable: number;
}

/**
 * F1 per AU over `aus` (other AUs in truth or predictions are ignored), and their mean. An unreadable answer
 * predicts no AU, so each AU it should have found is a false negative. F1 = 2TP/(2TP+FP+FN) equals 2PR/(P+R) where
 * that is defined and is 0 when there are no true positives. An AU that never occurs and is never predicted
 * (TP = FP = FN = 0) has no F1 and is left out of the mean: scoring it 0, as scikit-learn's zero_division default
 * does, would penalise a model for correctly never predicting it, and scoring it 1 would reward silence. On the
 * DISFA and BP4D test sets every scored AU occurs, so the choice only matters on small sets such as CK+ folds.
 */
export function auReport(truth: readonly (readonly number[])[], predicted: readonly (readonly number[] | null)[], aus: readonly number[]): AuReport {
  checkLengths(truth, predicted);
  const perAu = aus.map((au) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    truth.forEach((t, i) => {
      const actual = t.includes(au);
      const guessed = predicted[i]?.includes(au) ?? false;
      if (actual && guessed) tp++;
      else if (guessed) fp++;
      else if (actual) fn++;
    });
    const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);
    return { au, tp, fp, fn, precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn), f1: ratio(2 * tp, 2 * tp + fp + fn) };
  });
  const defined = perAu.flatMap((score) => (score.f1 === null ? [] : [score.f1]));
  return {
    n: truth.length,
    perAu,
    meanF1: defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length,
    unreadable: unreadableShare(predicted),
  };
}

/**
 * The mean F1 of a report's scored AUs that belong to `aus` (a benchmark's set), with how many of the set that is;
 * null when none of them has an F1.
 */
export function meanF1Among(report: AuReport, aus: readonly number[]): { meanF1: number | null; scored: number } {
  const f1s = report.perAu.flatMap((s) => (aus.includes(s.au) && s.f1 !== null ? [s.f1] : []));
  return { meanF1: f1s.length === 0 ? null : f1s.reduce((a, b) => a + b, 0) / f1s.length, scored: f1s.length };
}

// ---- age: MAE ----

export interface AgeReport {
  n: number;
  /** How many answers the MAE is over. */
  scored: number;
  /** Mean absolute error in years; null when no answer was scored. */
  mae: number | null;
  unreadable: number;
}

/**
 * Mean absolute error. An unreadable answer has no error to measure: by default it is left out of the MAE (see
 * `scored` and `unreadable`); with `fallback`, it is scored as that age, e.g. the training set's mean age, so that
 * a model cannot lower its MAE by not answering hard cases.
 */
export function ageReport(truth: readonly number[], predicted: readonly (number | null)[], options: { fallback?: number } = {}): AgeReport {
  checkLengths(truth, predicted);
  let sum = 0;
  let scored = 0;
  truth.forEach((t, i) => {
    const p = predicted[i] ?? options.fallback;
    if (p === undefined) return;
    sum += Math.abs(t - p);
    scored++;
  });
  return { n: truth.length, scored, mae: scored === 0 ? null : sum / scored, unreadable: unreadableShare(predicted) };
}

// ---- attributes: mean accuracy over the 40 ----

export interface AttributeReport {
  n: number;
  accuracy: Record<CelebaAttribute, number>;
  /** Mean of `accuracy` over the 40 attributes (mAcc). */
  meanAccuracy: number;
  unreadable: number;
}

/**
 * Per-attribute accuracy and their mean. An attribute the answer says nothing about takes the value silence
 * implies (`ATTRIBUTES[name].unmentioned`: absent, except No_Beard): answers list what they see. An unreadable
 * answer is wrong on all 40 attributes.
 */
export function attributeReport(
  truth: readonly Readonly<Record<CelebaAttribute, boolean>>[],
  predicted: readonly (AttributeReadings | null)[],
): AttributeReport {
  checkLengths(truth, predicted);
  const accuracy = {} as Record<CelebaAttribute, number>;
  for (const name of CELEBA_ATTRIBUTES) {
    let correct = 0;
    truth.forEach((t, i) => {
      const reading = predicted[i]?.[name];
      if (reading === undefined) return;
      const value = reading === 'unknown' ? ATTRIBUTES[name].unmentioned : reading === 'present';
      if (value === t[name]) correct++;
    });
    accuracy[name] = correct / truth.length;
  }
  const values = CELEBA_ATTRIBUTES.map((name) => accuracy[name]);
  return {
    n: truth.length,
    accuracy,
    meanAccuracy: values.reduce((a, b) => a + b, 0) / values.length,
    unreadable: unreadableShare(predicted),
  };
}
