import { describe, expect, it } from 'vitest';
import { comparePredictions, mcnemarExactP } from '../src/eval/compare.js';
import type { PredictionRecord } from '../src/eval/run.js';
import { parseAuSelection } from '../src/eval/tasks.js';

const record = (file: string, truth: PredictionRecord['truth'], extracted: PredictionRecord['extracted']): PredictionRecord => ({ file, truth, answer: '', extracted });

describe('mcnemarExactP', () => {
  it('is the two-sided binomial tail of the discordant images at ½', () => {
    expect(mcnemarExactP(0, 5)).toBeCloseTo(2 / 32, 12);
    expect(mcnemarExactP(4, 1)).toBeCloseTo((2 * 6) / 32, 12);
    expect(mcnemarExactP(3, 3)).toBe(1);
    expect(mcnemarExactP(0, 0)).toBe(1);
    // Large counts stay finite: 400 against 500 discordant images is a real difference.
    const p = mcnemarExactP(400, 500);
    expect(p).toBeGreaterThan(0.0005);
    expect(p).toBeLessThan(0.002);
  });
});

describe('comparePredictions', () => {
  const truths = ['happy', 'sad', 'angry', 'happy', 'neutral', 'sad'] as const;

  it('counts the images each model alone got right, over the files both answered', () => {
    const a = truths.map((t, i) => record(`f${i}`, t, i < 4 ? t : 'happy'));
    // b: wrong on f0, right on f4 and f5; f6 only in b and f3 missing from b, so both are left out.
    const b = [record('f0', 'happy', 'sad'), ...truths.slice(1, 3).map((t, i) => record(`f${i + 1}`, t, t)), record('f4', 'neutral', 'neutral'), record('f5', 'sad', 'sad'), record('f6', 'fear', 'fear')];
    const c = comparePredictions('expression', a, b, { resamples: 500 });
    expect(c).toMatchObject({ task: 'expression', metric: 'war', better: 'higher', n: 5, lost: 1, gained: 2 });
    expect(c.a).toBeCloseTo(3 / 5, 12);
    expect(c.b).toBeCloseTo(4 / 5, 12);
    expect(c.difference).toBeCloseTo(1 / 5, 12);
    expect(c.mcnemarP).toBeCloseTo(1, 12);
    const [lo, hi] = c.interval!;
    expect(lo).toBeLessThan(c.difference!);
    expect(hi).toBeGreaterThanOrEqual(c.difference!);
    expect(comparePredictions('expression', a, b, { resamples: 500 })).toEqual(c); // seeded
  });

  it('gives an age difference every resample agrees on when each answer moves by the same amount', () => {
    const a = [20, 30, 40, 50].map((age, i) => record(`u${i}`, age, age + 3));
    const b = [20, 30, 40, 50].map((age, i) => record(`u${i}`, age, age - 1));
    const c = comparePredictions('age', a, b, { resamples: 200 });
    expect(c).toMatchObject({ metric: 'mae', better: 'lower', a: 3, b: 1, difference: -2, interval: [-2, -2] });
    expect(c.lost).toBeUndefined();
  });

  it('scores AUs on the set both evaluations were scored on', () => {
    const a = [record('s1', [1, 2], [1, 2]), record('s2', [4, 26], [4])];
    const b = [record('s1', [1, 2], [1]), record('s2', [4, 26], [4, 26])];
    const present = comparePredictions('au', a, b, { resamples: 50 });
    expect(present.metric).toBe('mean_f1');
    // Present AUs 1, 2, 4, 26: a 1, 1, 1, 0; b 1, 0, 1, 1.
    expect(present.a).toBeCloseTo(3 / 4, 12);
    expect(present.b).toBeCloseTo(3 / 4, 12);
    const onTwo = comparePredictions('au', a, b, { resamples: 50, aus: parseAuSelection('2,26') });
    expect([onTwo.a, onTwo.b]).toEqual([0.5, 0.5]);
    const onOne = comparePredictions('au', a, b, { resamples: 50, aus: parseAuSelection('26') });
    expect([onOne.a, onOne.b, onOne.difference]).toEqual([0, 1, 1]);
  });

  it('refuses evaluations that share no image or disagree on a label', () => {
    expect(() => comparePredictions('deepfake', [record('x', 'real', 'real')], [record('y', 'real', 'real')])).toThrow(/share no image/);
    expect(() => comparePredictions('deepfake', [record('x', 'real', 'real')], [record('x', 'fake', 'real')])).toThrow(/x: the two evaluations disagree on its label/);
  });
});
