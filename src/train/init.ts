// Initial values of weights trained from nothing, as the reference implementations initialize them:
//  - the decoder as Hugging Face LLaMA (`_init_weights`): matrices and embeddings N(0, 0.02²), RMSNorm gains 1;
//  - the projector and the landmark modules as PyTorch's nn.Linear: U(±1/√fan_in) matrices;
//  - biases 0, normalization gains 1;
//  - FRGCA's output projection 0, so that h_v^l = Linear(attention) + h_v starts as h_v: inserting the landmark
//    branch into a trained model leaves its output unchanged until stage 1 learns to use it (this project's choice;
//    the released `simple` variant damps its branch by 0.1 for the same reason).
// Each tensor draws from its own stream, seeded by the run's seed and the tensor's name, so its value does not
// depend on which other tensors exist.
import { createHash } from 'node:crypto';
import { hostTensor, type HostTensor } from '../graph/host.js';
import { seededRandom } from '../util/random.js';
import { moduleOf } from './stages.js';

/** LlamaConfig.initializer_range. */
const DECODER_STD = 0.02;

export function initialWeight(name: string, shape: readonly number[], seed: number): HostTensor {
  const t = hostTensor('float32', shape);
  const d = t.data as Float32Array;
  if (shape.length === 1) {
    if (!name.endsWith('bias')) d.fill(1); // a normalization gain
    return t;
  }
  if (/landmarks_cross_attn\.out_proj\.weight$/.test(name)) return t;
  const random = seededRandom(seed, parseInt(createHash('sha256').update(name).digest('hex').slice(0, 8), 16));
  if (moduleOf(name) === 'decoder') {
    for (let i = 0; i < d.length; i += 2) {
      // Box–Muller: two independent normals from two uniforms.
      const r = DECODER_STD * Math.sqrt(-2 * Math.log(1 - random()));
      const angle = 2 * Math.PI * random();
      d[i] = r * Math.cos(angle);
      if (i + 1 < d.length) d[i + 1] = r * Math.sin(angle);
    }
  } else {
    const bound = 1 / Math.sqrt(shape[shape.length - 1]);
    for (let i = 0; i < d.length; i++) d[i] = (2 * random() - 1) * bound;
  }
  return t;
}
