// Weight averaging (src/model/average.ts): the result is the weighted mean of the models' tensors and answers as a
// model of their configuration; models that do not compute the same function of their weights are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32 } from '../src/graph/host.js';
import { openCheckpoint } from '../src/graph/safetensors.js';
import { averageModels } from '../src/model/average.js';
import { loadPretrained, savePretrained, type ModelDirConfigInput } from '../src/model/pretrained.js';
import { standardizeModel } from '../src/model/standardize.js';
import { TOKEN_NORM_MEAN } from '../src/model/token-norm.js';
import { encodePrompt, withImages } from '../src/text/chat.js';
import { mulberry32 } from '../src/util/random.js';
import { randomWeights, TINY } from './helpers/tiny-model.js';

const root = mkdtempSync(join(tmpdir(), 'face-llava-average-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const save = (name: string, seed: number, config: ModelDirConfigInput = TINY, extra: Record<string, unknown> = {}) =>
  savePretrained(join(root, name), { config: { ...config, ...extra }, weights: randomWeights(config, seed) });

describe('averageModels', () => {
  it('writes the weighted mean of every tensor, records its sources, and loads and answers', async () => {
    const a = await save('a', 1, TINY, { training: { run: 'runs/a', lr: 2e-4 } });
    const b = await save('b', 2, TINY, { training: { run: 'runs/b', lr: 1e-4 } });
    const out = await averageModels([a, b], join(root, 'ab'), { weights: [3, 1] });
    const [wa, wb, wo] = [a, b, out].map((d) => openCheckpoint(d).loadAll({ toFloat32: true }));
    expect([...wo.keys()].sort()).toEqual([...wa.keys()].sort());
    let worst = 0;
    for (const [name, t] of wo) {
      const [x, y, z] = [wa.get(name)!.data, wb.get(name)!.data, t.data] as Float32Array[];
      for (let i = 0; i < z.length; i++) worst = Math.max(worst, Math.abs(z[i] - (0.75 * x[i] + 0.25 * y[i])));
    }
    expect(worst).toBeLessThan(1e-6);
    // the weights really differ, so the mean is not one of them
    const first = (w: typeof wo) => (w.get('lm_head.weight')!.data as Float32Array)[0];
    expect(Math.abs(first(wo) - first(wa))).toBeGreaterThan(1e-5);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.training).toBeUndefined();
    expect(config.averaged_from).toEqual([
      { model: a, weight: 0.75, training: { run: 'runs/a', lr: 2e-4 } },
      { model: b, weight: 0.25, training: { run: 'runs/b', lr: 1e-4 } },
    ]);
    const model = await loadPretrained(out);
    try {
      expect(model.report.missing).toEqual([]);
      const ids = encodePrompt([{ role: 'user', content: withImages('What is the expression?', 1) }], model.tokenizer);
      const [answer] = await model.model.generate([{ ids, frames: f32([1, 3, 32, 32]), landmarks: f32([1, 68, 2]) }], { tokenizer: model.tokenizer, maxNewTokens: 4, stopIds: [] });
      expect(answer.ids).toHaveLength(4);
    } finally {
      await model.dispose();
    }
  });

  it('refuses fewer than two models, bad weights, and models of another configuration', async () => {
    const a = await save('c', 1);
    const b = await save('d', 2);
    await expect(averageModels([a], join(root, 'x'))).rejects.toThrow(/two models or more/);
    await expect(averageModels([a, b], join(root, 'x'), { weights: [1, 0] })).rejects.toThrow(/positive number, not 0/);
    await expect(averageModels([a, b], join(root, 'x'), { weights: [1] })).rejects.toThrow(/1 weights for 2 models/);
    const otherTasks = await save('e', 3, { ...TINY, tasks: ['age'] });
    await expect(averageModels([a, otherTasks], join(root, 'x'))).rejects.toThrow(/differs from .* in tasks/);
    const wider = { ...TINY, face_llava: { ...TINY.face_llava, llm: { ...TINY.face_llava.llm, intermediate_size: 96 } } };
    const otherShape = await save('f', 4, wider);
    await expect(averageModels([a, otherShape], join(root, 'x'))).rejects.toThrow(/differs from .* in face_llava/);
  });

  it('keeps frozen token statistics and refuses models fitted to different ones', async () => {
    const a = await save('g', 1);
    const b = await save('h', 2);
    const random = mulberry32(5);
    const stats = (scale: number) => ({ mean: f32([16], Array.from({ length: 16 }, () => random() - 0.5)), std: f32([16], Array.from({ length: 16 }, () => scale + random())) });
    const s1 = stats(0.5);
    const [sa, sb] = [await standardizeModel(a, join(root, 'ga'), s1), await standardizeModel(b, join(root, 'hb'), s1)];
    const out = await averageModels([sa, sb], join(root, 'gh'));
    // Each source's own record of how it was made moves into averaged_from (the two were standardized from different models).
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.standardized_from).toBeUndefined();
    expect(config.face_llava.standardize_tokens).toBe(true);
    expect(config.averaged_from.map((s: { standardized_from: { model: string } }) => s.standardized_from.model)).toEqual([a, b]);
    expect(Array.from(openCheckpoint(out).load(TOKEN_NORM_MEAN, { toFloat32: true }).data as Float32Array)).toEqual(Array.from(s1.mean.data as Float32Array));
    const other = await standardizeModel(b, join(root, 'hc'), stats(0.5));
    await expect(averageModels([sa, other], join(root, 'x'))).rejects.toThrow(/model\.token_norm\.mean \(not a learned float weight\) differs/);
  });
});
