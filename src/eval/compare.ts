// Two models' answers to the same evaluation, compared image by image. Two models scored on the same images differ
// by much less noise than two independent scores suggest: most images are answered alike, and only the ones that
// changed carry the difference. A paired bootstrap (resampling images, both models' readings together) gives the
// headline metric's difference with a 95 % interval; for single-label tasks the images one model got right and the
// other wrong are counted, with McNemar's exact test on them.
//
// Images are resampled independently. Where several images share a subject (CK+: three frames of each sequence,
// several sequences a subject), they are not independent and the true interval is wider than the one given.
import { mulberry32 } from '../util/random.js';
import type { PredictionRecord } from './run.js';
import type { Task } from '../data/build/types.js';
import { headlines, scoreTask, type AuSelection } from './tasks.js';

/** The headline compared per task (expression: WAR, the accuracy, as the model card's tables give it). */
const COMPARED: Readonly<Record<Task, string>> = { expression: 'war', deepfake: 'accuracy', au: 'mean_f1', attributes: 'mean_accuracy', age: 'mae' };

export interface PairedComparison {
  task: Task;
  /** The headline metric compared (its key in metrics.json) and whether higher is better. */
  metric: string;
  better: 'higher' | 'lower';
  /** Images both evaluations answered (matched by file). */
  n: number;
  a: number | null;
  b: number | null;
  /** b − a, and its 95 % paired-bootstrap interval (2.5th and 97.5th percentiles). */
  difference: number | null;
  interval: [number, number] | null;
  resamples: number;
  /** Single-label tasks (expression, deepfake): images right in a only, right in b only, and McNemar's exact p. */
  lost?: number;
  gained?: number;
  mcnemarP?: number;
}

/** Two-sided exact McNemar test: under no difference, each discordant image is b's win with probability ½. */
export function mcnemarExactP(lost: number, gained: number): number {
  const n = lost + gained;
  if (n === 0) return 1;
  const k = Math.min(lost, gained);
  // P(X ≤ k) for X ~ Binomial(n, ½), summed in log space so that n in the thousands stays finite.
  let logC = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

/**
 * Compares evaluation `b` against `a` (same task; predictions.jsonl records of each) over the images both answered.
 * `aus` is the AU set both were scored on (default: the AUs that occur). Deterministic for a given `seed`.
 */
export function comparePredictions(
  task: Task,
  a: readonly PredictionRecord[],
  b: readonly PredictionRecord[],
  options: { resamples?: number; seed?: number; aus?: AuSelection } = {},
): PairedComparison {
  const resamples = options.resamples ?? 2000;
  const byFile = new Map(b.map((p) => [p.file, p]));
  const pairs = a.flatMap((p) => {
    const q = byFile.get(p.file);
    return q ? [[p, q] as const] : [];
  });
  for (const [p, q] of pairs) {
    if (JSON.stringify(p.truth) !== JSON.stringify(q.truth)) throw new Error(`${p.file}: the two evaluations disagree on its label`);
  }
  const headline = (records: readonly PredictionRecord[]) => {
    const score = scoreTask(task, records.map((r) => r.truth), records.map((r) => r.extracted), { aus: options.aus });
    return headlines(score).find((h) => h.key === COMPARED[task])!;
  };
  if (pairs.length === 0) throw new Error('the two evaluations share no image');
  const as = pairs.map(([p]) => p);
  const bs = pairs.map(([, q]) => q);
  const [ha, hb] = [headline(as), headline(bs)];
  const result: PairedComparison = { task, metric: ha.key, better: ha.better, n: pairs.length, a: ha.value, b: hb.value, difference: null, interval: null, resamples };
  if (result.a !== null && result.b !== null) {
    result.difference = result.b - result.a;
    const random = mulberry32(options.seed ?? 1);
    const diffs: number[] = [];
    for (let r = 0; r < resamples; r++) {
      const idx = Array.from({ length: pairs.length }, () => Math.floor(random() * pairs.length));
      const va = headline(idx.map((i) => as[i])).value;
      const vb = headline(idx.map((i) => bs[i])).value;
      if (va !== null && vb !== null) diffs.push(vb - va);
    }
    diffs.sort((x, y) => x - y);
    if (diffs.length) result.interval = [diffs[Math.floor(0.025 * (diffs.length - 1))], diffs[Math.ceil(0.975 * (diffs.length - 1))]];
  }
  if (task === 'expression' || task === 'deepfake') {
    const right = (p: PredictionRecord) => p.extracted === p.truth;
    result.lost = pairs.filter(([p, q]) => right(p) && !right(q)).length;
    result.gained = pairs.filter(([p, q]) => !right(p) && right(q)).length;
    result.mcnemarP = mcnemarExactP(result.lost, result.gained);
  }
  return result;
}
