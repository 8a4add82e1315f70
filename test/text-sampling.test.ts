import { describe, expect, it } from 'vitest';
import { argmax, FACE_LLAVA_SAMPLING, Sampler, SamplingOptionsSchema, type SamplingOptionsInput } from '../src/text/sampling.js';
import { mulberry32 } from '../src/util/random.js';

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

/**
 * The straightforward sampler — a full sort for top-k and for top-p — that Sampler must match draw for draw: the
 * same candidates, weights summed in the same order, the same token for the same generator state.
 */
function referenceSampler(input: SamplingOptionsInput): (logits: Float32Array, history?: Iterable<number>) => number {
  const { temperature, topK, topP, repetitionPenalty, seed } = SamplingOptionsSchema.parse(input);
  const random = mulberry32(seed);
  return (logits, history = []) => {
    let scores = logits;
    if (repetitionPenalty !== 1) {
      scores = Float32Array.from(logits);
      for (const id of history) {
        if (id < 0 || id >= scores.length) continue;
        scores[id] = logits[id] < 0 ? logits[id] * repetitionPenalty : logits[id] / repetitionPenalty;
      }
    }
    if (temperature === 0) return argmax(scores);
    let candidates = Array.from(scores.keys());
    if (topK > 0 && topK < candidates.length) {
      const kth = Float32Array.from(scores).sort()[scores.length - topK];
      candidates = candidates.filter((id) => scores[id] >= kth);
    }
    const max = scores[argmax(scores)];
    let weights = candidates.map((id) => Math.exp((scores[id] - max) / temperature));
    let total = weights.reduce((sum, w) => sum + w, 0);
    if (topP < 1) {
      const order = Array.from(candidates.keys()).sort((a, b) => weights[b] - weights[a]);
      candidates = order.map((i) => candidates[i]);
      weights = order.map((i) => weights[i]);
      let kept = 0;
      let mass = 0;
      while (kept < candidates.length && mass < topP * total) mass += weights[kept++];
      candidates.length = weights.length = kept;
      total = mass;
    }
    let target = random() * total;
    for (let i = 0; i < candidates.length; i++) {
      target -= weights[i];
      if (target < 0) return candidates[i];
    }
    return candidates[candidates.length - 1];
  };
}

describe('Sampler against a full sort', () => {
  /** Logits of a few shapes: spread out, coarse (many ties), peaked, with masked (−∞) tokens. */
  function logitsOfShape(shape: number, size: number, seed: number): Float32Array {
    const random = mulberry32(seed);
    const logits = randomLogits(size, seed + 1000);
    if (shape === 1) logits.forEach((x, i) => (logits[i] = Math.round(x))); // 11 values: ties everywhere
    if (shape === 2) for (let i = 0; i < 4; i++) logits[Math.floor(random() * size)] += 12;
    if (shape === 3) logits.forEach((x, i) => (logits[i] = random() < 0.3 ? -Infinity : Math.round(x * 4) / 4));
    return logits;
  }

  /** The tokens both samplers draw, `steps` per logit row, from rows of every shape. */
  function draws(options: SamplingOptionsInput, size: number, rows: number, steps: number): [number[], number[]] {
    const fast = new Sampler(options);
    const reference = referenceSampler(options);
    const got: number[] = [];
    const want: number[] = [];
    for (let row = 0; row < rows; row++) {
      const logits = logitsOfShape(row % 4, size, 31 * (options.seed ?? 0) + row);
      const history = [row, 2 * row + 1, -200];
      for (let step = 0; step < steps; step++) {
        got.push(fast.next(logits, history));
        want.push(reference(logits, history));
      }
    }
    return [got, want];
  }

  it('draws the same tokens for every seed, k, p, temperature and repetition penalty', () => {
    let compared = 0;
    for (let seed = 0; seed < 6; seed++) {
      for (const topK of [0, 1, 2, 5, 50, 199, 200, 400]) {
        for (const topP of [1, 0.999, 0.9, 0.5, 0.05]) {
          for (const temperature of [0.1, 1, 3]) {
            const options = { temperature, topK, topP, seed, repetitionPenalty: seed % 2 === 0 ? 1 : 1.3 };
            const [got, want] = draws(options, 200, 4, 5);
            expect(got, JSON.stringify(options)).toEqual(want);
            compared += got.length;
          }
        }
      }
    }
    expect(compared).toBe(6 * 8 * 5 * 3 * 20);
  });

  it('draws the same tokens over a 32000-token vocabulary, with the released settings among others', () => {
    for (const options of [FACE_LLAVA_SAMPLING, { temperature: 1, topP: 0.9 }, { temperature: 0.7, topK: 50, topP: 0.95 }, { temperature: 1 }]) {
      for (const seed of [0, 1]) {
        const [got, want] = draws({ ...options, seed }, 32000, 4, 3);
        expect(got, JSON.stringify({ ...options, seed })).toEqual(want);
      }
    }
  });

  it('draws the same tokens where the mass of the heaviest weights falls short of p only by rounding', () => {
    // The weight classes that choose which tokens to order first say they reach p; summed in falling order they
    // fall short by an ulp, so the lighter tokens are ordered too.
    const cases = [
      { logits: [0, -2.3424646854400635, -1.5590248107910156, -1.533331036567688, -1.0986288785934448], topP: 0.9482152358184047 },
      { logits: [0, -0.8503010272979736, -0.19128532707691193, -0.5101656913757324, -0.12473968416452408, -0.6810975670814514], topP: 0.8992811634921852 },
    ];
    for (const { logits, topP } of cases) {
      for (let seed = 0; seed < 50; seed++) {
        const options = { temperature: 1, topP, seed };
        const fast = new Sampler(options);
        const reference = referenceSampler(options);
        const row = Float32Array.from(logits);
        const got = Array.from({ length: 20 }, () => fast.next(row));
        expect(got).toEqual(Array.from({ length: 20 }, () => reference(row)));
      }
    }
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
