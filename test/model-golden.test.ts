// The model family against the golden reference (../shared/golden): every reference output of each case is
// reproduced to 1e-4. The cases themselves live in scripts/golden.ts, shared with `npm run golden`.
import { describe, expect, it } from 'vitest';
import { GOLDEN_CASES, TOLERANCE } from '../scripts/golden.js';
import { loadGolden, outputsOf } from './helpers/golden.js';

describe('golden cases of the model family', () => {
  it.each(['frlp', 'frgca', 'simple_xattn', 'vit', 'pipeline'])('%s reproduces every reference output', async (name) => {
    const errors = await GOLDEN_CASES[name]();
    expect(Object.keys(errors).sort()).toEqual([...outputsOf(loadGolden(name)).keys()].sort());
    for (const [output, error] of Object.entries(errors)) expect(error, `${name} ${output}`).toBeLessThanOrEqual(TOLERANCE);
  });
});
