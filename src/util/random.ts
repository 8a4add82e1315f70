// Seeded pseudo-random numbers: the same seed gives the same sequence on every platform, so data orders, initial
// weights, sampling and test data are reproducible (and a resumed training run continues bit for bit).

/** mulberry32: a small, fast 32-bit generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * mulberry32 seeded from (seed, stream): independent streams of one seed (an epoch's data order, a tensor's initial
 * values), each a pure function of its two inputs.
 */
export function seededRandom(seed: number, stream: number): () => number {
  return mulberry32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b));
}

/** Fisher–Yates, in place; returns `items`. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
