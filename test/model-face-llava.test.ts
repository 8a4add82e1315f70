import { describe, expect, it, vi } from 'vitest';
import { Graph } from '../src/graph/graph.js';
import { f32, type HostTensor, maxAbsDiff } from '../src/graph/host.js';
import { compile } from '../src/graph/session.js';
import { declaredParams, loadWeights, tensorSource } from '../src/model/checkpoint.js';
import { GOLDEN_PIPELINE_CONFIG, parseFaceLlavaConfig } from '../src/model/config.js';
import { buildTrainingGraph, buildVisualGraph, FaceLlava, IO, spliceLayout, unusedCheckpointKeys } from '../src/model/face-llava.js';
import { IGNORE_INDEX } from '../src/model/llama.js';
import { patchCentroids } from '../src/model/regions.js';
import { clipVitEncoder, featureMapEncoder } from '../src/model/vision/encoder.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { loadGolden, weightsOf } from './helpers/golden.js';

const ids = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
const I = -200;

describe('splicing visual tokens into the text', () => {
  it('replaces placeholder k of the batch by the tokens of frame k, right-padding shorter sequences', () => {
    const layout = spliceLayout(
      [
        [1, I, 7, 8],
        [1, 5, I, I, 9],
      ],
      { tokensPerFrame: 2, imageTokenIndex: I },
      [
        [I, I, I, 8],
        [I, I, I, I, 9],
      ].map((row) => row.map((v) => (v === I ? IGNORE_INDEX : v))),
    );
    // Text rows: sequence b's k-th text id is row 3b + k; frame f's n-th token is row 2·3 + 2f + n.
    expect(ids(layout.textIds)).toEqual([1, 7, 8, 1, 5, 9]);
    expect(layout.rows.shape).toEqual([2, 7]);
    expect(ids(layout.rows)).toEqual([0, 6, 7, 1, 2, 0, 0, 3, 4, 8, 9, 10, 11, 5]);
    expect(ids(layout.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    const X = IGNORE_INDEX;
    expect(ids(layout.labels!)).toEqual([X, X, X, X, 8, X, X, X, X, X, X, X, X, 9]);
    expect(layout.lengths).toEqual([5, 7]);
    expect(layout.frames).toBe(3);
  });

  it('refuses labels that do not align with the ids', () => {
    expect(() => spliceLayout([[1, I]], { tokensPerFrame: 2, imageTokenIndex: I }, [[1]])).toThrow(/labels must align/);
  });
});

describe('visual encoders', () => {
  it('reads a feature map cell by cell in row-major order', async () => {
    const encoder = featureMapEncoder({ type: 'feature_map', channels: 2, grid: 3 }, { inputShape: [2, 3, 3], build: (frames) => frames });
    const g = new Graph();
    g.output('tokens', encoder.encode(g.input('map', 'float32', ['frames', 2, 3, 3])));
    const map = f32([1, 2, 3, 3], Array.from({ length: 18 }, (_, i) => i)); // channel c, cell j holds 9c + j
    const { tokens } = await (await compile(g, { params: 'initializers' })).run({ map });
    expect(tokens.shape).toEqual([1, 9, 2]);
    expect(Array.from(tokens.data as Float32Array)).toEqual(Array.from({ length: 9 }, (_, j) => [j, 9 + j]).flat());
    expect(encoder.grid).toEqual({ size: 3, cls: false });
  });

  it('places patch j = row·G + col at ((col + ½)/G, (row + ½)/G)', () => {
    expect(Array.from(patchCentroids(2))).toEqual([0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75]);
  });

  it('builds the ViT only up to the selected layer and names the blocks it skips', () => {
    if (GOLDEN_PIPELINE_CONFIG.vision.type !== 'clip_vit') throw new Error('unreachable');
    const encoder = clipVitEncoder(GOLDEN_PIPELINE_CONFIG.vision);
    const names = declaredParams(buildVisualGraph(GOLDEN_PIPELINE_CONFIG, encoder)).map((p) => p.name);
    expect(names.some((n) => n.startsWith('vision_model.encoder.layers.1.'))).toBe(true);
    expect(names.some((n) => n.startsWith('vision_model.encoder.layers.2.'))).toBe(false);
    expect(encoder.unusedParams).toContain('vision_model.encoder.layers.2.mlp.fc2.bias');
    expect(encoder.unusedParams).toContain('vision_model.post_layernorm.weight');
    expect(encoder.unusedParams).toHaveLength(2 + 16) // post_layernorm, and 8 weight+bias pairs of block 2;
  });
});

/** Deterministic values in [0, 1]. */
const random = (shape: number[], seed: number) => f32(shape, Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.abs(Math.sin(seed * 1000 + i * 12.9898))));

describe('the cross-attention variants in the composed model', () => {
  it('declares the released names for `simple` and knows which of its keys go unused', () => {
    const cfg = parseFaceLlavaConfig({ ...GOLDEN_PIPELINE_CONFIG, cross_attn: { cross_attn_type: 'simple', num_heads: 8 } });
    if (cfg.vision.type !== 'clip_vit') throw new Error('unreachable');
    const encoder = clipVitEncoder(cfg.vision);
    const names = declaredParams(buildVisualGraph(cfg, encoder)).map((p) => p.name);
    expect(names).toContain('model.landmarks_cross_attn.cross_attn.attn.in_proj_weight');
    expect(names).toContain('model.landmarks_projector.region_layers.teeth.weight');
    expect(unusedCheckpointKeys(cfg, encoder)).toContain('model.landmarks_cross_attn.ln.weight');
  });

  it('has no landmark input when the model has no landmark branch', () => {
    const cfg = parseFaceLlavaConfig({ ...GOLDEN_PIPELINE_CONFIG, cross_attn: { cross_attn_type: 'none' } });
    if (cfg.vision.type !== 'clip_vit') throw new Error('unreachable');
    const g = buildVisualGraph(cfg, clipVitEncoder(cfg.vision));
    expect(g.inputs.map((t) => t.name)).toEqual([IO.pixels]);
    expect(declaredParams(g).some((p) => p.name.includes('landmarks'))).toBe(false);
  });
});

describe('answering', () => {
  const weights = weightsOf(loadGolden('pipeline'));

  it("encodes each request's media, batches the prompts and decodes as each would alone", async () => {
    const { model, report } = await FaceLlava.fromCheckpoint(GOLDEN_PIPELINE_CONFIG, tensorSource(weights), { maxNewTokens: 4 });
    expect(report.unexpected).toEqual([]);
    const image = { ids: [1, 17, I, 23, 31], frames: random([1, 3, 32, 32], 3), landmarks: random([1, 68, 2], 4) };
    const video = { ids: [1, 5, I, I, 44, 12], frames: random([2, 3, 32, 32], 5) }; // no landmarks: the branch is skipped
    const options = { tokenizer: llamaTokenizer(), maxNewTokens: 4, stopIds: [] };
    const batch = await model.generate([image, video], options);
    const alone = [...(await model.generate([image], options)), ...(await model.generate([video], options))];
    expect(batch.map((g) => g.ids)).toEqual(alone.map((g) => g.ids));
    expect(batch.every((g) => g.ids.length === 4)).toBe(true);
    expect(() => model.promptEmbeddings(video.ids, random([1, 16, 64], 6))).toThrow(/2 placeholders, so it needs visual tokens \[2, 16, 64\], got \[1, 16, 64\]/);
    await model.release();
  });

  it('answers questions about media encoded once as it answers them about the frames', async () => {
    const { model } = await FaceLlava.fromCheckpoint(GOLDEN_PIPELINE_CONFIG, tensorSource(weights), { maxNewTokens: 4 });
    const frames = random([2, 3, 32, 32], 7);
    const landmarks = random([2, 68, 2], 8);
    const questions = [
      [1, 5, I, I, 44, 12],
      [1, I, I, 9],
      [1, 17, 23, I, I],
    ];
    const options = { tokenizer: llamaTokenizer(), maxNewTokens: 4, stopIds: [], sampling: { temperature: 1, topK: 5, seed: 3 } };
    const fromFrames = await model.generate(questions.map((ids) => ({ ids, frames, landmarks })), options);
    const visual = await model.encodeMedia(frames, landmarks);
    const encode = vi.spyOn(model, 'encodeMedia');
    const fromVisual = await model.generate(questions.map((ids) => ({ ids, visual })), options);
    expect(encode).not.toHaveBeenCalled();
    expect(fromVisual).toEqual(fromFrames);
    // A mix of both in one batch.
    expect(await model.generate([{ ids: questions[0], visual }, { ids: questions[1], frames, landmarks }], options)).toEqual(fromFrames.slice(0, 2));
    expect(encode).toHaveBeenCalledTimes(1);
    await model.release();
  });
});

describe('the training forward', () => {
  const cfg = GOLDEN_PIPELINE_CONFIG;
  if (cfg.vision.type !== 'clip_vit') throw new Error('unreachable');
  const encoder = clipVitEncoder(cfg.vision);
  const weights = weightsOf(loadGolden('pipeline'));

  async function run(sequences: number[][], labels: number[][], frames: number) {
    const g = buildTrainingGraph(cfg, encoder);
    const { weights: bound } = loadWeights(declaredParams(g), tensorSource(weights), { unused: unusedCheckpointKeys(cfg, encoder) });
    const session = await compile(g, { params: 'initializers', weights: (n) => bound.get(n), outputs: [IO.logits, IO.loss] });
    const layout = spliceLayout(sequences, { tokensPerFrame: 16, imageTokenIndex: cfg.image_token_index }, labels);
    expect(layout.frames).toBe(frames);
    const out = await session.run({
      [IO.pixels]: random([frames, 3, 32, 32], 1),
      [IO.landmarks]: random([frames, 68, 2], 2),
      [IO.textIds]: layout.textIds,
      [IO.rows]: layout.rows,
      [IO.attentionMask]: layout.attentionMask,
      [IO.labels]: layout.labels!,
    });
    return { logits: out[IO.logits], loss: out[IO.loss], layout };
  }

  it('counts only the answer tokens in the loss, and padding changes nothing', async () => {
    const X = IGNORE_INDEX;
    const sequences = [
      [1, 17, I, 23, 40, 41, 2],
      [1, 5, I, I, 9, 30, 2],
    ];
    const labels = [
      [X, X, X, X, 40, 41, 2],
      [X, X, X, X, X, 30, 2],
    ];
    const { logits, loss, layout } = await run(sequences, labels, 3);
    // Host cross-entropy over positions whose next label counts.
    const V = cfg.llm.vocab_size;
    const S = layout.rows.shape[1];
    const spliced = ids(layout.labels!);
    const x = logits.data as Float32Array;
    let total = 0;
    let counted = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t + 1 < S; t++) {
        const target = spliced[b * S + t + 1];
        if (target === X) continue;
        const row = x.subarray((b * S + t) * V, (b * S + t + 1) * V);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        total += lse - row[target];
        counted++;
      }
    }
    expect(counted).toBe(5);
    expect((loss.data as Float32Array)[0]).toBeCloseTo(total / counted, 5);

    // The first sequence alone (no padding, its one frame) gives the same logits as in the padded batch.
    const alone = await run([sequences[0]], [labels[0]], 1);
    const L = alone.layout.lengths[0];
    const first = f32([L, V], x.subarray(0, L * V));
    expect(maxAbsDiff(first, f32([L, V], alone.logits.data as Float32Array))).toBeLessThan(1e-4);
  });
});
