// Appends frozen npm networks to a trained model's encoder (src/model/widen.ts): the result answers as the model
// does, and `face-llava train --init <out>` then teaches its projector to read the new channels.
//
//   npx tsx scripts/widen-encoder.ts --model models/default --out runs/widened [--add face_expression] [--dtype float16]
//
// --add names a network of the registry (src/model/vision/npm-encoder.ts) by its model name; repeatable.
// `--add face_recognition:global` appends the network's map averaged over its grid to every token (`"pool":
// "global"`), for a network whose map is coarser than the encoder's; `--add age_gender:zoom=1.4` feeds the network the
// centre 1/1.4 of the crop (`"zoom": 1.4`), i.e. the detector's box, the framing face-api's age net was trained on.
// `--add emotion:fit` averages a finer map (human's emotion net, 8×8) down to the encoder's grid (`"pool": "fit"`).
import { parseArgs } from 'node:util';
import { widenEncoder } from '../src/model/widen.js';
import { NPM_NETWORKS, type NetworkRef } from '../src/model/vision/npm-encoder.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    out: { type: 'string' },
    add: { type: 'string', multiple: true, default: ['face_expression'] },
    dtype: { type: 'string' },
  },
});
if (!a.model || !a.out) throw new Error('usage: scripts/widen-encoder.ts --model <dir> --out <dir> [--add face_expression]… [--dtype float16|bfloat16]');
if (a.dtype !== undefined && a.dtype !== 'float16' && a.dtype !== 'bfloat16') throw new Error(`--dtype: float16 or bfloat16, not ${a.dtype}`);
const networks = a.add.map((arg) => {
  const [name, ...options] = arg.split(':');
  const n = NPM_NETWORKS.find((x) => x.model === name);
  if (!n) throw new Error(`--add ${name}: the registry has ${NPM_NETWORKS.map((x) => x.model).join(', ')}`);
  const ref: NetworkRef = { package: n.package, model: n.model, layer: n.layer, input_size: n.input_size };
  for (const option of options) {
    const zoom = /^zoom=(\d+(?:\.\d+)?)$/.exec(option);
    if (option === 'global' || option === 'fit') ref.pool = option;
    else if (zoom && Number(zoom[1]) >= 1) ref.zoom = Number(zoom[1]);
    else throw new Error(`--add ${arg}: a network's name, then optionally :global or :fit, and :zoom=<z ≥ 1>`);
  }
  return ref;
});
const dir = await widenEncoder(a.model, a.out, networks, { dtype: a.dtype as 'float16' | 'bfloat16' | undefined });
console.log(`wrote ${dir}: ${a.model} with ${a.add.join(', ')} appended to its encoder`);
