// Averages the weights of models fine-tuned from one starting point into one model (src/model/average.ts: a
// "model soup"). The models must share their configuration; the result answers at the cost of one.
//
//   npx tsx scripts/average-models.ts --out runs/soup models/default runs/a/model runs/b/model \
//     [--weights 2,1,1] [--dtype float16]
import { parseArgs } from 'node:util';
import { averageModels } from '../src/model/average.js';
import { readModelDirConfig, resolveEncoder } from '../src/model/pretrained.js';

const { values: a, positionals: models } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string' }, weights: { type: 'string' }, dtype: { type: 'string' } },
});
const usage = 'usage: scripts/average-models.ts --out <dir> <model dir> <model dir>… [--weights w1,w2,…] [--dtype float16|bfloat16]';
if (!a.out || models.length < 2) throw new Error(usage);
if (a.dtype !== undefined && a.dtype !== 'float16' && a.dtype !== 'bfloat16') throw new Error(`--dtype: float16 or bfloat16, not ${a.dtype}`);
const weights = a.weights?.split(',').map((w) => {
  if (!/^\d*\.?\d+$/.test(w.trim())) throw new Error(`--weights: positive numbers separated by commas, not ${a.weights}`);
  return Number(w);
});
const config = await readModelDirConfig(models[0]);
const encoder = config.encoder.kind === 'npm' ? await resolveEncoder(config.encoder) : undefined;
const dir = await averageModels(models, a.out, { weights, dtype: a.dtype as 'float16' | 'bfloat16' | undefined, encoder });
const shares = weights ?? models.map(() => 1);
const total = shares.reduce((s, w) => s + w, 0);
console.log(`wrote ${dir}: ${models.map((m, i) => `${(shares[i] / total).toFixed(3)} × ${m}`).join(' + ')}`);
