import { describe, expect, it } from 'vitest';
import { argmax, FACE_LLAVA_SAMPLING, mulberry32, Sampler, SamplingOptionsSchema } from '../src/text/sampling.js';

/** Random logits in [-5, 5) from a fixed seed. */
function randomLogits(size: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: size }, () => random() * 10 - 5);
}

/** Logits whose softmax is the given distribution. */
const fromProbabilities = (probabilities: number[]) => Float32Array.from(probabilities, Math.log);

/** How often each token is drawn in n draws. */
function histogram(sampler: Sampler, logits: Float32Array, n: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampler.next(logits)]++;
  return counts;
}

describe('Sampler', () => {
  it('is greedy by default: the argmax, first on ties', () => {
    const greedy = new Sampler();
    for (let seed = 0; seed < 20; seed++) {
      const logits = randomLogits(1000, seed);
      expect(greedy.next(logits)).toBe(argmax(logits));
    }
    expect(greedy.next(Float32Array.of(1, 3, 3, 2))).toBe(1);
  });

  it('approaches greedy as the temperature goes to 0', () => {
    const cold = new Sampler({ temperature: 1e-6, seed: 3 });
    for (let seed = 0; seed < 50; seed++) {
      const logits = randomLogits(500, seed);
      expect(cold.next(logits)).toBe(argmax(logits));
    }
  });

  it('draws in proportion to the softmax at temperature 1, and flatter when hotter', () => {
    const probabilities = [0.5, 0.3, 0.15, 0.05];
    const counts = histogram(new Sampler({ temperature: 1, seed: 1 }), fromProbabilities(probabilities), 20000);
    counts.forEach((count, i) => expect(count / 20000).toBeCloseTo(probabilities[i], 1));
    // At temperature 2 the distribution is ∝ √p: the rarest token is drawn markedly more often.
    const hot = histogram(new Sampler({ temperature: 2, seed: 1 }), fromProbabilities(probabilities), 20000);
    expect(hot[3]).toBeGreaterThan(counts[3] * 1.8);
  });

  it('restricts the support to the k best logits with top-k', () => {
    const logits = Float32Array.of(0.1, 2, -1, 1.9, 0, 1.8, -3);
    const counts = histogram(new Sampler({ temperature: 1, topK: 3, seed: 2 }), logits, 3000);
    expect(counts.map((count) => count > 0)).toEqual([false, true, false, true, false, true, false]);
  });

  it('keeps the smallest head reaching p with top-p (nucleus)', () => {
    const logits = fromProbabilities([0.5, 0.3, 0.15, 0.05]);
    const support = (topP: number) =>
      histogram(new Sampler({ temperature: 1, topP, seed: 4 }), logits, 3000).map((count) => count > 0);
    expect(support(0.4)).toEqual([true, false, false, false]);
    expect(support(0.75)).toEqual([true, true, false, false]);
    expect(support(0.85)).toEqual([true, true, true, false]);
    expect(support(1)).toEqual([true, true, true, true]);
  });

  it('applies top-p to the distribution left by top-k and temperature', () => {
    // Top-2 leaves 0.5 / 0.3 → 0.625 / 0.375: p = 0.6 keeps only the first.
    const counts = histogram(new Sampler({ temperature: 1, topK: 2, topP: 0.6, seed: 5 }), fromProbabilities([0.5, 0.3, 0.2]), 500);
    expect(counts).toEqual([500, 0, 0]);
  });

  it('penalizes repeated ids CTRL-style: positive logits divided, negative multiplied', () => {
    const greedy = new Sampler({ repetitionPenalty: 2 });
    // 2 → 1 falls below 1.5.
    expect(greedy.next(Float32Array.of(2, 1.5, 0), [0])).toBe(1);
    // -1 → -2 falls below -1.5.
    expect(greedy.next(Float32Array.of(-1, -1.5), [0])).toBe(1);
    // Ids outside the vocabulary (image sentinels) are ignored; repeats count once; logits stay untouched.
    const logits = Float32Array.of(2, 1.5, 0);
    expect(greedy.next(logits, [-200, 7, 1, 1])).toBe(0);
    expect(Array.from(logits)).toEqual([2, 1.5, 0]);
    expect(new Sampler({ repetitionPenalty: 1 }).next(Float32Array.of(2, 1.5), [0])).toBe(0);
  });

  it('is reproducible from its seed', () => {
    const logits = randomLogits(100, 9);
    const draw = (seed: number) => {
      const sampler = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 50 }, () => sampler.next(logits));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('validates its options', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow();
    expect(() => new Sampler({ topP: 0 })).toThrow();
    expect(() => new Sampler({ topP: 1.5 })).toThrow();
    expect(() => new Sampler({ topK: 2.5 })).toThrow();
    expect(() => new Sampler({ repetitionPenalty: 0 })).toThrow();
    expect(SamplingOptionsSchema.parse({})).toEqual({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 });
  });

  it("offers the released code's settings as a preset", () => {
    expect(SamplingOptionsSchema.parse(FACE_LLAVA_SAMPLING)).toMatchObject({ temperature: 0.1, topK: 50, topP: 1 });
    // At temperature 0.1 a logit gap of 1 makes the runner-up e^-10 times less likely: nearly greedy.
    const counts = histogram(new Sampler(FACE_LLAVA_SAMPLING), Float32Array.of(0, 1, -2), 2000);
    expect(counts[1]).toBeGreaterThan(1990);
  });
});

describe('mulberry32', () => {
  it('gives uniform numbers in [0, 1)', () => {
    const random = mulberry32(7);
    const values = Array.from({ length: 10000 }, random);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(values.reduce((sum, v) => sum + v, 0) / values.length).toBeCloseTo(0.5, 1);
  });
});
