// Turns `standardize_tokens` on in a trained model (src/model/token-norm.ts, src/model/standardize.ts): measures
// μ and σ of each encoder channel over the training crops of --data (from the feature cache `face-llava train`
// fills; crops not cached yet are encoded), stores them in the model and folds them into the projector, so that
// the result answers exactly as the model does. `face-llava train --init <out>` then trains it.
//
//   npx tsx scripts/standardize-tokens.ts --model models/default --data fi/fer2013-expression … --cache fi/features \
//     --out runs/standardized [--sample 8192] [--dtype float16] [--threads 2]
//
// --sample: crops measured, spread evenly over the data's distinct crops sorted by name (default every crop).
import { parseArgs } from 'node:util';
import { openCheckpoint } from '../src/graph/safetensors.js';
import { readModelDirConfig, resolveEncoder } from '../src/model/pretrained.js';
import { standardizeModel } from '../src/model/standardize.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { listJsonl, loadExamples } from '../src/train/data.js';
import { encoderExtractor } from '../src/train/extractor.js';
import { FeatureStore } from '../src/train/features.js';
import { measureTokenStatistics, pickFrames } from '../src/train/token-stats.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string', multiple: true },
    cache: { type: 'string' },
    out: { type: 'string' },
    sample: { type: 'string' },
    dtype: { type: 'string' },
    threads: { type: 'string' },
  },
});
const usage = 'usage: scripts/standardize-tokens.ts --model <dir> --data <folder>… --cache <dir> --out <dir> [--sample N] [--dtype float16|bfloat16] [--threads N]';
if (!a.model || !a.out || !a.cache || !a.data?.length) throw new Error(usage);
if (a.dtype !== undefined && a.dtype !== 'float16' && a.dtype !== 'bfloat16') throw new Error(`--dtype: float16 or bfloat16, not ${a.dtype}`);
const whole = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${name}: a whole number ≥ 1, not ${v}`);
  return Number(v);
};
const sample = whole('sample', a.sample);

const config = await readModelDirConfig(a.model);
const encoder = config.encoder.kind === 'npm' ? await resolveEncoder(config.encoder) : undefined;
const { examples } = await loadExamples(await listJsonl(a.data), { tokenizer: llamaTokenizer(), config: config.face_llava, split: 'train' });
const frames = pickFrames(examples.flatMap((e) => e.frames), sample);
const extractor = await encoderExtractor(config, { encoder, weights: openCheckpoint(a.model), threads: whole('threads', a.threads) });
let stats;
try {
  const store = await FeatureStore.open(a.cache, extractor);
  await store.ensure(frames, (done, total) => process.stderr.write(`encoding ${done}/${total}\r`));
  stats = await measureTokenStatistics(store, frames);
} finally {
  await extractor.release();
}
const dir = await standardizeModel(a.model, a.out, stats, { dtype: a.dtype as 'float16' | 'bfloat16' | undefined, encoder });
const sigma = Array.from(stats.std.data as Float32Array);
console.log(`wrote ${dir}: ${a.model} reading its ${sigma.length} encoder channels standardized by the statistics of ${stats.frames} training crops (σ ${Math.min(...sigma).toPrecision(3)} … ${Math.max(...sigma).toPrecision(3)})`);
