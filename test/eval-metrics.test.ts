import { describe, expect, it } from 'vitest';
import { CELEBA_ATTRIBUTES, type CelebaAttribute } from '../src/data/labels/attributes.js';
import { AUTHENTICITY, type Authenticity } from '../src/data/labels/deepfake.js';
import { EXPRESSIONS, type Expression } from '../src/data/labels/expression.js';
import { extractAttributes } from '../src/eval/extract.js';
import { ageReport, attributeReport, auReport, classificationReport, meanF1Among } from '../src/eval/metrics.js';

describe('classificationReport', () => {
  // happy: 1 of 2 right; sad: 2 of 3 right, one unreadable; angry: 0 of 1. Other classes absent.
  const truth: Expression[] = ['happy', 'happy', 'sad', 'sad', 'sad', 'angry'];
  const predicted: (Expression | null)[] = ['happy', 'sad', 'sad', null, 'sad', 'happy'];
  const report = classificationReport(truth, predicted, EXPRESSIONS);

  it('computes recall per class present, UAR over those classes, WAR over samples', () => {
    expect(report.recall.happy).toBe(0.5);
    expect(report.recall.sad).toBeCloseTo(2 / 3, 12);
    expect(report.recall.angry).toBe(0);
    expect(report.recall.fear).toBeNull();
    expect(report.uar).toBeCloseTo((1 / 2 + 2 / 3 + 0) / 3, 12);
    expect(report.war).toBe(3 / 6);
    expect(report.unreadable).toBe(1 / 6);
    expect(report.n).toBe(6);
  });

  it('fills the confusion matrix, with a last column for unreadable answers', () => {
    const row = (cls: Expression): number[] => report.confusion[EXPRESSIONS.indexOf(cls)];
    //                      neutral happy sad surprise fear disgust angry contempt unreadable
    expect(row('happy')).toEqual([0, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(row('sad')).toEqual([0, 0, 2, 0, 0, 0, 0, 0, 1]);
    expect(row('angry')).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(row('fear')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('gives deepfake accuracy as WAR', () => {
    const truthRf: Authenticity[] = ['real', 'fake', 'fake', 'real'];
    const r = classificationReport(truthRf, ['real', 'real', 'fake', null], AUTHENTICITY);
    expect(r.war).toBe(0.5);
    expect(r.uar).toBe(0.5);
    expect(r.unreadable).toBe(0.25);
  });

  it('rejects mismatched lengths, empty input and labels outside the class list', () => {
    expect(() => classificationReport(['happy'], [], EXPRESSIONS)).toThrow(/1 ground-truth labels but 0 predictions/);
    expect(() => classificationReport([], [], EXPRESSIONS)).toThrow(/no samples/);
    expect(() => classificationReport(['happy'] as Expression[], ['joy' as Expression], EXPRESSIONS)).toThrow(/predicted label joy/);
  });
});

describe('auReport', () => {
  it('computes F1 per AU and the mean over AUs with a defined F1', () => {
    const truth = [[1, 12], [1], [12], []];
    const predicted = [[1], [1, 2], null, [12, 6]];
    const report = auReport(truth, predicted, [1, 2, 4, 12]);
    const [au1, au2, au4, au12] = report.perAu;
    expect(au1).toEqual({ au: 1, tp: 2, fp: 0, fn: 0, precision: 1, recall: 1, f1: 1 });
    // Predicted once, never present: precision 0, recall undefined, F1 0.
    expect(au2).toEqual({ au: 2, tp: 0, fp: 1, fn: 0, precision: 0, recall: null, f1: 0 });
    // Never present, never predicted: no F1, left out of the mean.
    expect(au4).toEqual({ au: 4, tp: 0, fp: 0, fn: 0, precision: null, recall: null, f1: null });
    // The unreadable answer (null) misses its AU12: a false negative.
    expect(au12).toEqual({ au: 12, tp: 0, fp: 1, fn: 2, precision: 0, recall: 0, f1: 0 });
    expect(report.meanF1).toBeCloseTo(1 / 3, 12);
    expect(report.unreadable).toBe(0.25);
  });

  it('matches 2PR/(P+R) where P and R are defined', () => {
    // AU6: TP 2, FP 1, FN 1 → P = R = 2/3. AU7: TP 1, FP 3, FN 0 → P = 1/4, R = 1, F1 = 0.4.
    const truth = [[6, 7], [6], [6], []];
    const predicted = [[6, 7], [6, 7], [7], [6, 7]];
    const [au6, au7] = auReport(truth, predicted, [6, 7]).perAu;
    expect(au6.f1).toBeCloseTo(2 / 3, 12);
    expect(au7.precision).toBe(0.25);
    expect(au7.recall).toBe(1);
    expect(au7.f1).toBeCloseTo((2 * 0.25 * 1) / (0.25 + 1), 12);
  });

  it('has no mean when no AU has an F1', () => {
    expect(auReport([[]], [[]], [1, 2]).meanF1).toBeNull();
  });

  it("averages a subset's AUs among those with an F1", () => {
    const report = auReport([[1, 12], [1], [12], []], [[1], [1, 2], null, [12, 6]], [1, 2, 4, 12]);
    // AU1 F1 1, AU4 none, AU12 F1 0; AU9 is not scored at all.
    expect(meanF1Among(report, [1, 4, 9, 12])).toEqual({ meanF1: 0.5, scored: 2 });
    expect(meanF1Among(report, [4, 9])).toEqual({ meanF1: null, scored: 0 });
  });
});

describe('ageReport', () => {
  it('computes MAE over readable answers, or with a fallback age for unreadable ones', () => {
    const truth = [20, 30, 40, 50];
    const predicted = [22, null, 35, 50];
    expect(ageReport(truth, predicted)).toEqual({ n: 4, scored: 3, mae: 7 / 3, unreadable: 0.25 });
    expect(ageReport(truth, predicted, { fallback: 35 })).toEqual({ n: 4, scored: 4, mae: 3, unreadable: 0.25 });
    expect(ageReport([30], [null]).mae).toBeNull();
  });
});

describe('attributeReport', () => {
  const none = (): Record<CelebaAttribute, boolean> =>
    Object.fromEntries(CELEBA_ATTRIBUTES.map((name) => [name, false])) as Record<CelebaAttribute, boolean>;
  const truthOf = (on: CelebaAttribute[]): Record<CelebaAttribute, boolean> => ({ ...none(), ...Object.fromEntries(on.map((name) => [name, true])) });

  it('scores unmentioned attributes by what silence implies, and unreadable answers as wrong on all 40', () => {
    const truth = [
      truthOf(['Male', 'No_Beard', 'Smiling']), // read: man, not smiling; the rest unmentioned → 39/40
      truthOf(['No_Beard', 'Eyeglasses']), // unreadable → 0/40
      truthOf(['Male']), // "a man with a beard": all 40 right
    ];
    const predicted = [
      extractAttributes('A man who is not smiling.'),
      extractAttributes('The picture is of a landscape.'),
      extractAttributes('A man with a beard.'),
    ];
    expect(predicted[1]).toBeNull();
    const report = attributeReport(truth, predicted);
    expect(report.accuracy.Smiling).toBeCloseTo(1 / 3, 12);
    expect(report.accuracy.No_Beard).toBeCloseTo(2 / 3, 12);
    expect(report.accuracy.Eyeglasses).toBeCloseTo(2 / 3, 12);
    expect(report.meanAccuracy).toBeCloseTo((39 * (2 / 3) + 1 / 3) / 40, 12);
    expect(report.unreadable).toBeCloseTo(1 / 3, 12);
  });
});
