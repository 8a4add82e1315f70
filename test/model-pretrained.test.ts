import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../src/graph/graph.js';
import { f32, numel, type HostTensor } from '../src/graph/host.js';
import { openCheckpoint, writeSafetensors } from '../src/graph/safetensors.js';
import { CheckpointMismatchError } from '../src/model/checkpoint.js';
import { CLIP_MEAN, CLIP_STD, PreprocessSchema, preprocessCrop, preprocessFrames } from '../src/model/preprocess.js';
import {
  loadPretrained,
  modelParams,
  parseModelDirConfig,
  savePretrained,
  type ModelDirConfigInput,
} from '../src/model/pretrained.js';
import { encodePrompt, withImages } from '../src/text/chat.js';
import { mulberry32 } from '../src/util/random.js';
import { randomWeights, TINY as TINY_MODEL } from './helpers/tiny-model.js';

const root = mkdtempSync(join(tmpdir(), 'face-llava-pretrained-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The shared tiny model, generating 6 tokens, with a field of its own that the config must keep. */
const TINY: ModelDirConfigInput = { ...TINY_MODEL, generation: { max_new_tokens: 6 }, notes: 'kept as written' };

const weights = randomWeights(TINY);
let counter = 0;
const fresh = () => join(root, `model-${counter++}`);

describe('model directories', () => {
  it('round-trips config and weights, filling defaults and keeping extra fields', async () => {
    const dir = await savePretrained(fresh(), { config: TINY, weights, card: '# tiny\n' });
    expect(readdirSync(dir).sort()).toEqual(['MODEL_CARD.md', 'config.json', 'model.safetensors']);
    const written = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(written.generation).toEqual({ temperature: 0.1, top_k: 50, max_new_tokens: 6 });
    expect(written.preprocess).toEqual({ image_size: 32, mean: [...CLIP_MEAN], std: [...CLIP_STD], resize: 'bicubic', crop: 'center', channels_order: 'rgb' });
    expect(written.notes).toBe('kept as written');

    const loaded = await loadPretrained(dir);
    try {
      expect(loaded.config.tasks).toEqual(['expression']);
      expect(loaded.encoderSpec).toEqual({ kind: 'clip_vit' });
      expect(loaded.report.unexpected).toEqual([]);
      const ids = encodePrompt([{ role: 'user', content: withImages('What is the expression?', 1) }], loaded.tokenizer);
      const [answer] = await loaded.model.generate([{ ids, frames: f32([1, 3, 32, 32]), landmarks: f32([1, 68, 2]) }], {
        tokenizer: loaded.tokenizer,
        maxNewTokens: loaded.generation.max_new_tokens,
        stopIds: [],
      });
      expect(answer.ids).toHaveLength(6);
    } finally {
      await loaded.dispose();
    }
  });

  it('stores float32 weights as float16 on request and loads them back as float32', async () => {
    const full = await savePretrained(fresh(), { config: TINY, weights });
    const half = await savePretrained(fresh(), { config: TINY, weights, dtype: 'float16' });
    const size = (dir: string) => statSync(join(dir, 'model.safetensors')).size;
    expect(size(half)).toBeLessThan(size(full) * 0.52);
    const stored = openCheckpoint(half);
    expect(new Set([...stored.tensors.values()].map((t) => t.dtype))).toEqual(new Set(['float16']));
    for (const [name, original] of weights) {
      const a = original.data as Float32Array;
      const b = stored.load(name, { toFloat32: true }).data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(a[i]) * 1e-3 + 1e-7);
    }
    const loaded = await loadPretrained(half); // converts to float32 as it binds the weights
    try {
      expect(loaded.report.missing).toEqual([]);
    } finally {
      await loaded.dispose();
    }
  });

  it('shards a checkpoint over the size limit and loads it through the index', async () => {
    const dir = await savePretrained(fresh(), { config: TINY, weights, maxShardBytes: 2_000_000 });
    expect(readdirSync(dir)).toContain('model.safetensors.index.json');
    const loaded = await loadPretrained(dir);
    await loaded.dispose();
  });

  it('replaces an earlier model as a whole, leaving no staging folders behind', async () => {
    const parent = join(root, 'replace');
    const dir = join(parent, 'model');
    await savePretrained(dir, { config: TINY, weights, maxShardBytes: 2_000_000 });
    await savePretrained(dir, { config: { ...TINY, tasks: ['age'] }, weights });
    expect(readdirSync(parent)).toEqual(['model']);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).tasks).toEqual(['age']);
  });

  it('refuses to replace a folder that is not a model directory', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await expect(savePretrained(dir, { config: TINY, weights })).rejects.toThrow(/refusing to replace .*: it is not a model directory/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('checks the weights before writing anything', async () => {
    const wrong = new Map(weights);
    wrong.set('model.mm_projector.zero.weight', wrong.get('model.mm_projector.0.weight')!);
    wrong.delete('model.mm_projector.0.weight');
    const dir = fresh();
    const error = await savePretrained(dir, { config: TINY, weights: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/missing 1: model\.mm_projector\.0\.weight; unexpected 1: model\.mm_projector\.zero\.weight/);
    expect(existsSync(dir)).toBe(false);
  });

  it('names the missing and unexpected keys of a checkpoint that does not fit', async () => {
    const dir = await savePretrained(fresh(), { config: TINY, weights });
    const renamed = new Map(weights);
    renamed.set('model.layers.0.mlp.up_projection.weight', renamed.get('model.layers.0.mlp.up_proj.weight')!);
    renamed.delete('model.layers.0.mlp.up_proj.weight');
    writeSafetensors(join(dir, 'model.safetensors'), renamed);
    const error = await loadPretrained(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as CheckpointMismatchError).report.missing).toEqual(['model.layers.0.mlp.up_proj.weight']);
    expect((error as Error).message).toContain(join(dir, 'model.safetensors'));
    expect((error as Error).message).toMatch(/missing 1: model\.layers\.0\.mlp\.up_proj\.weight; unexpected 1: model\.layers\.0\.mlp\.up_projection\.weight/);
  });

  it('keeps an output vocabulary on one line of config.json and answers with its tokens only (fullVocab: all)', async () => {
    const vocab = [2, 29, 100, 350, 900];
    const dir = await savePretrained(fresh(), { config: { ...TINY, output_vocab: vocab }, weights });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toContain(`"output_vocab": [2, 29, 100, 350, 900],\n`);
    const answer = async (fullVocab: boolean) => {
      const loaded = await loadPretrained(dir, { fullVocab });
      try {
        const ids = encodePrompt([{ role: 'user', content: withImages('What is the expression?', 1) }], loaded.tokenizer);
        const frames = { frames: f32([1, 3, 32, 32]), landmarks: f32([1, 68, 2]) };
        return (await loaded.model.generate([{ ids, ...frames }], { tokenizer: loaded.tokenizer, maxNewTokens: 6, stopIds: [] }))[0].ids;
      } finally {
        await loaded.dispose();
      }
    };
    expect((await answer(false)).every((id) => vocab.includes(id))).toBe(true);
    expect((await answer(true)).some((id) => !vocab.includes(id))).toBe(true); // random weights favour none of the five
    expect(() => parseModelDirConfig({ ...TINY, output_vocab: [29, 100] })).toThrow(/output_vocab: must include the end of sequence \(2\)/);
    expect(() => parseModelDirConfig({ ...TINY, output_vocab: [2, 100, 29] })).toThrow(/output_vocab: must be distinct ascending ids below vocab_size \d+; 29 is not/);
    expect(() => parseModelDirConfig({ ...TINY, output_vocab: [2, 10 ** 6] })).toThrow(/output_vocab: .*; 1000000 is not/);
  });

  it('says plainly when there is no model, or no config', async () => {
    await expect(loadPretrained(join(root, 'nothing-here'))).rejects.toThrow(`no model at ${join(root, 'nothing-here')}`);
    const empty = fresh();
    mkdirSync(empty);
    await expect(loadPretrained(empty)).rejects.toThrow(/is not a model directory: it has no config\.json/);
  });

  it('lists every problem of a config by field', () => {
    const bad = {
      ...TINY,
      preprocess: { image_size: 224, resize: 'lanczos' },
      encoder: { kind: 'npm', package: '@vladmandic/face-api', model: 'face_expression', layer: 'dense3', input_size: 112 },
      tasks: [],
    };
    let message = '';
    try {
      parseModelDirConfig(bad, 'dir/config.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^dir\/config\.json: invalid model config:/);
    expect(message).toMatch(/preprocess\.resize: /);
    expect(message).toMatch(/tasks: /);
    expect(() => parseModelDirConfig({ ...TINY, preprocess: { image_size: 224 } })).toThrow(/preprocess\.image_size: 224 differs from face_llava\.vision\.image_size 32/);
    expect(() => parseModelDirConfig({ ...TINY, encoder: { kind: 'npm', package: 'p', model: 'm', layer: 'l', input_size: 32 } })).toThrow(
      /encoder\.kind: an npm encoder needs face_llava\.vision\.type feature_map, not clip_vit/,
    );
    expect(() => parseModelDirConfig({ ...TINY, encoder: { kind: 'onnx' } })).toThrow(/encoder\.kind: Invalid discriminator value/);
  });
});

describe('npm encoders', () => {
  // A frozen "network" whose feature map is its input: 3 channels on an 8×8 grid.
  const NPM: ModelDirConfigInput = {
    ...TINY,
    face_llava: { ...(TINY.face_llava as object), vision: { type: 'feature_map', channels: 3, grid: 8 } } as ModelDirConfigInput['face_llava'],
    preprocess: { image_size: 8, mean: [0.5, 0.5, 0.5], std: [1, 1, 1] },
    encoder: { kind: 'npm', package: 'some-package', model: 'net', layer: 'conv_out', input_size: 8, weights_file: 'net.bin' },
  };
  const identity = { inputShape: [3, 8, 8], build: (frames: Tensor) => frames };

  it('builds the network through the resolver, which sees the whole spec', async () => {
    const npmWeights = (() => {
      const random = mulberry32(2);
      const cfg = parseModelDirConfig(NPM).face_llava;
      return new Map(modelParams(cfg, identity).map((p) => [p.name, f32(p.shape, Array.from({ length: numel(p.shape) }, () => random() - 0.5))]));
    })();
    const dir = await savePretrained(fresh(), { config: NPM, weights: npmWeights, encoder: { network: identity } });
    const seen: unknown[] = [];
    const loaded = await loadPretrained(dir, {
      resolveEncoder: (spec) => {
        seen.push(spec);
        return { network: identity };
      },
    });
    expect(seen).toEqual([{ kind: 'npm', package: 'some-package', model: 'net', layer: 'conv_out', input_size: 8, weights_file: 'net.bin' }]);
    expect(loaded.model.encoder.frameShape).toEqual([3, 8, 8]);
    await loaded.dispose();
    await expect(loadPretrained(dir)).rejects.toThrow(/the encoder is some-package\/net, and no resolver for npm encoders was given/);
    await expect(savePretrained(fresh(), { config: NPM, weights: npmWeights })).rejects.toThrow(/needs the resolved encoder/);
    const wider = { inputShape: [3, 16, 16], build: (frames: Tensor) => frames };
    await expect(loadPretrained(dir, { resolveEncoder: () => ({ network: wider }) })).rejects.toThrow(
      /the encoder takes frames \[3, 16, 16\], the preprocessing makes \[3, 8, 8\]/,
    );
  });
});

describe('preprocessing a face crop', () => {
  /** A width×height image whose columns are coloured by `colour(x)`. */
  const columns = (width: number, height: number, colour: (x: number) => [number, number, number]) => {
    const rgb = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(colour(x), 3 * (y * width + x));
    return { width, height, rgb };
  };
  const bands = columns(40, 20, (x) => (x < 10 ? [0, 255, 0] : x < 30 ? [255, 0, 0] : [0, 0, 255]));
  const at = (t: HostTensor, c: number, y: number, x: number) => (t.data as Float32Array)[(c * t.shape[1] + y) * t.shape[2] + x];

  it('normalizes with the CLIP mean and std by default', async () => {
    const grey = columns(256, 256, () => [128, 128, 128]);
    const t = await preprocessCrop(grey, PreprocessSchema.parse({ image_size: 16 }));
    expect(t.shape).toEqual([3, 16, 16]);
    for (let c = 0; c < 3; c++) expect(at(t, c, 5, 7)).toBeCloseTo((128 / 255 - CLIP_MEAN[c]) / CLIP_STD[c], 5);
  });

  it('resizes the shorter side and keeps the centre (crop: center)', async () => {
    // 40×20 → 20×10, then the centre 10×10: the red middle band only.
    const p = PreprocessSchema.parse({ image_size: 10, mean: [0, 0, 0], std: [1, 1, 1] });
    const t = await preprocessCrop(bands, p);
    for (const x of [0, 9]) {
      expect(at(t, 0, 5, x)).toBeGreaterThan(0.9);
      expect(at(t, 1, 5, x)).toBeLessThan(0.1);
      expect(at(t, 2, 5, x)).toBeLessThan(0.1);
    }
  });

  it('stretches the whole crop (crop: none) and can order channels BGR', async () => {
    const p = PreprocessSchema.parse({ image_size: 10, mean: [0, 0, 0], std: [1, 1, 1], crop: 'none', resize: 'bilinear', channels_order: 'bgr' });
    const t = await preprocessCrop(bands, p);
    expect(at(t, 1, 5, 0)).toBeGreaterThan(0.9); // green on the left
    expect(at(t, 0, 5, 9)).toBeGreaterThan(0.9); // blue, now channel 0, on the right
    expect(at(t, 2, 5, 9)).toBeLessThan(0.1);
  });

  it('stacks frames into [F, 3, S, S]', async () => {
    const frames = await preprocessFrames([bands, bands], PreprocessSchema.parse({ image_size: 10 }));
    expect(frames.shape).toEqual([2, 3, 10, 10]);
    const single = await preprocessCrop(bands, PreprocessSchema.parse({ image_size: 10 }));
    expect(Array.from((frames.data as Float32Array).subarray(300))).toEqual(Array.from(single.data as Float32Array));
  });
});
