// Sampling benchmark (npx tsx bench/sampling.ts): key=value lines, microseconds per next-token choice (median of
// rounds of 100 calls, after warm-up) on 32000-logit rows, as LLaMA's vocabulary gives them.
//
//   greedy_us            temperature 0: the argmax, for scale
//   paper_us             the released settings (FACE_LLAVA_SAMPLING: temperature 0.1, top-k 50)
//   top_p_us             temperature 1, top-p 0.9 (no top-k)
//   top_k_top_p_us       temperature 0.7, top-k 50, top-p 0.9
//   full_us              temperature 1, the whole vocabulary
//
// Logits are drawn N(0, 2²) with a few peaks, so top-p keeps a realistic share of the vocabulary.
import { FACE_LLAVA_SAMPLING, Sampler, type SamplingOptionsInput } from '../src/text/sampling.js';
import { mulberry32 } from '../src/util/random.js';

const VOCAB = 32000;
const ROWS = 16;

function print(key: string, value: number): void {
  console.log(`${key}=${+value.toPrecision(4)}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function logitRows(): Float32Array[] {
  const random = mulberry32(1234);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: ROWS }, () => {
    const row = Float32Array.from({ length: VOCAB }, () => 2 * normal());
    for (let i = 0; i < 5; i++) row[Math.floor(random() * VOCAB)] += 8 + 4 * random();
    return row;
  });
}

function timePerCall(options: SamplingOptionsInput, rows: readonly Float32Array[]): number {
  const sampler = new Sampler({ ...options, seed: 1 });
  let sink = 0;
  for (let i = 0; i < 200; i++) sink += sampler.next(rows[i % rows.length]);
  const rounds: number[] = [];
  for (let r = 0; r < 15; r++) {
    const start = performance.now();
    for (let i = 0; i < 100; i++) sink += sampler.next(rows[i % rows.length]);
    rounds.push(((performance.now() - start) / 100) * 1000);
  }
  if (sink < 0) console.log(sink);
  return median(rounds);
}

const rows = logitRows();
print('greedy_us', timePerCall({}, rows));
print('paper_us', timePerCall(FACE_LLAVA_SAMPLING, rows));
print('top_p_us', timePerCall({ temperature: 1, topP: 0.9 }, rows));
print('top_k_top_p_us', timePerCall({ temperature: 0.7, topK: 50, topP: 0.9 }, rows));
print('full_us', timePerCall({ temperature: 1 }, rows));
