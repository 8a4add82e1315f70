// The npm encoder registry: the feature map it builds into a model's graph must be the imported network's own (and
// TensorFlow.js's) on real faces fed through the model directory's preprocessing, and a model directory naming
// faceres must save, load and answer with the registry as its default resolver.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rgbFromSharp, type RgbImage } from '../src/face/rgb.js';
import { Graph } from '../src/graph/graph.js';
import { f32, numel, type HostTensor } from '../src/graph/host.js';
import { compile } from '../src/graph/session.js';
import { compileImported, importTfjsModel, loadTfjsModel, readFaceApiModel, type TfjsArtifacts } from '../src/graph/tfjs-import.js';
import { loadWeights, tensorSource } from '../src/model/checkpoint.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { preprocessFrames } from '../src/model/preprocess.js';
import { defaultModelDirConfig, loadPretrained, modelParams, parseModelDirConfig, readModelDirConfig, savePretrained, type ModelDirConfigInput, type ResolvedEncoder } from '../src/model/pretrained.js';
import { featureMapEncoder } from '../src/model/vision/encoder.js';
import { FACERES_ENCODER, isRegisteredNpmEncoder, npmPreprocess, resolveNpmEncoder } from '../src/model/vision/npm-encoder.js';
import { encodePrompt, withImages } from '../src/text/chat.js';
import { mulberry32 } from '../src/util/random.js';
import { openSafetensors } from '../src/graph/safetensors.js';
import { PROJECTOR_INPUT_WEIGHT, widenEncoder } from '../src/model/widen.js';
import { standardizeModel } from '../src/model/standardize.js';
import { TOKEN_NORM_STD } from '../src/model/token-norm.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';
import { relativeError } from './helpers/error.js';
import { encodingGap, randomWeights, tinyNpmConfig } from './helpers/tiny-model.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FACEAPI_EXPRESSION = { package: '@vladmandic/face-api', model: 'face_expression', layer: 'dense3/out', input_size: 112 };
const FACEAPI_RECOGNITION = { package: '@vladmandic/face-api', model: 'face_recognition', layer: 'conv256_down_out/out', input_size: 150 };
const FACEAPI_AGE_GENDER = { package: '@vladmandic/face-api', model: 'age_gender', layer: 'exit_flow/relu', input_size: 112 };
const HUMAN_EMOTION = { package: '@vladmandic/human', model: 'emotion', layer: 'StatefulPartitionedCall/model_1/add_2/add', input_size: 64 };
const root = mkdtempSync(join(tmpdir(), 'face-llava-npm-encoder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two faces of the realorfake pack's train split (one fake, one real), decoded. */
async function faces(): Promise<RgbImage[]> {
  const images = await samplePack('realorfake', 'train', 2);
  return Promise.all([...images.values()].map((bytes) => rgbFromSharp(sharp(bytes).removeAlpha().toColourspace('srgb'))));
}

/** The network's map [F, C, G, G] for frames [F, 3, S, S], run alone through the engine. */
async function runNetwork(encoder: ResolvedEncoder, frames: HostTensor): Promise<HostTensor> {
  const g = new Graph('npm_encoder_test');
  g.output('map', encoder.network.build(g.input('frames', 'float32', ['frames', ...encoder.network.inputShape])));
  const sources = [encoder.weights!, ...(encoder.split ? [tensorSource(encoder.split.initial)] : [])];
  const { weights } = loadWeights(g.params.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape as number[] })), sources);
  const session = await compile(g, { params: 'initializers', weights: (name) => weights.get(name), threads: 2, noCache: true });
  try {
    return (await session.run({ frames })).map;
  } finally {
    await session.release();
  }
}

/** [F, 3, H, W] → [F, H, W, 3] (what the TF.js graph takes and gives). */
function toNhwc(t: HostTensor): HostTensor {
  const [n, c, h, w] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) out[(i * h * w + p) * c + k] = src[(i * c + k) * h * w + p];
  return f32([n, h, w, c], out);
}

/** Channels [from, to) of a map [F, C, H, W]. */
function channels(t: HostTensor, from: number, to: number): HostTensor {
  const [n, c, h, w] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(n * (to - from) * h * w);
  for (let i = 0; i < n; i++) out.set(src.subarray((i * c + from) * h * w, (i * c + to) * h * w), i * (to - from) * h * w);
  return f32([n, to - from, h, w], out);
}

/** The centre of frames [F, 3, H, W], `margin` pixels cut from each side. */
function centre(t: HostTensor, margin: number): HostTensor {
  const [n, c, h, w] = t.shape;
  const [ch, cw] = [h - 2 * margin, w - 2 * margin];
  const src = t.data as Float32Array;
  const out = new Float32Array(n * c * ch * cw);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < ch; y++) out.set(src.subarray((p * h + y + margin) * w + margin, (p * h + y + margin) * w + margin + cw), (p * ch + y) * cw);
  return f32([n, c, ch, cw], out);
}

/** 2×2 box average of frames [F, 3, H, W]. */
function halve(t: HostTensor): HostTensor {
  const [n, c, h, w] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array((n * c * h * w) / 4);
  for (let p = 0; p < n * c; p++) {
    for (let y = 0; y < h / 2; y++) {
      for (let x = 0; x < w / 2; x++) {
        const at = (dy: number, dx: number) => src[(p * h + 2 * y + dy) * w + 2 * x + dx];
        out[(p * h) / 2 * (w / 2) + y * (w / 2) + x] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
      }
    }
  }
  return f32([n, c, h / 2, w / 2], out);
}

/** The importer's own output at `layer` (NHWC) for NHWC pixels, as a standalone session. */
async function importerOutput(artifacts: TfjsArtifacts, layer: string, pixels: HostTensor): Promise<HostTensor> {
  const imported = importTfjsModel(artifacts, { outputs: [layer] });
  const session = await compileImported(imported, { threads: 2 });
  try {
    return (await session.run({ [imported.inputs[0].name]: pixels }))[layer];
  } finally {
    await session.release();
  }
}

describe('the npm encoder registry', () => {
  it('knows faceres, face_expression, face_recognition, age_gender and emotion, alone or concatenated, and nothing else', () => {
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, FACEAPI_AGE_GENDER, { ...HUMAN_EMOTION, pool: 'fit' }] })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, FACEAPI_AGE_GENDER] })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...FACEAPI_AGE_GENDER, layer: 'fc/age/add_bias' }] })).toBe(false);
    expect(isRegisteredNpmEncoder(FACERES_ENCODER)).toBe(true);
    expect(isRegisteredNpmEncoder({ kind: 'npm', ...FACEAPI_RECOGNITION })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, { ...FACEAPI_RECOGNITION, pool: 'global' }] })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...FACEAPI_RECOGNITION, pool: 'max' }] })).toBe(false);
    expect(isRegisteredNpmEncoder({ kind: 'npm', ...FACEAPI_EXPRESSION })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION] })).toBe(true);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, layer: 'feats/Relu' })).toBe(false);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...FACEAPI_EXPRESSION, input_size: 150 }] })).toBe(false);
    expect(isRegisteredNpmEncoder({ ...FACERES_ENCODER, concat: 'face_expression' })).toBe(false);
  });

  it('feeds RGB in 0..255: the crop stretched bilinearly to the input, its values untouched', async () => {
    const p = npmPreprocess(3);
    expect(p).toMatchObject({ image_size: 3, resize: 'bilinear', crop: 'none', channels_order: 'rgb', mean: [0, 0, 0] });
    const crop: RgbImage = { width: 3, height: 3, rgb: Uint8Array.from({ length: 27 }, (_, i) => (i * 97) % 256) };
    const t = await preprocessFrames([crop], p);
    const red = Array.from({ length: 9 }, (_, i) => crop.rgb[3 * i]);
    expect(Array.from(t.data as Float32Array).slice(0, 9)).toEqual(red);
  });

  it('rejects a spec the registry does not have, naming the ones it has', async () => {
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, model: 'facemesh' })).rejects.toThrow(/no network @vladmandic\/human facemesh .* \(it has: @vladmandic\/human faceres at conv_pw_13_relu\/clip_by_value \(224 px\)/);
  });
});

describe.skipIf(!packAvailable('realorfake'))('faceres on real faces', () => {
  let crops: RgbImage[];
  let frames: HostTensor;
  let faceres: ResolvedEncoder;
  let map: HostTensor;
  beforeAll(async () => {
    crops = await faces();
    frames = await preprocessFrames(crops, npmPreprocess(224));
    faceres = await resolveNpmEncoder(FACERES_ENCODER);
    map = await runNetwork(faceres, frames);
  });

  it('gives the importer\'s own map at conv_pw_13_relu/clip_by_value, [F, 1024, 7, 7], with the weights as parameters', async () => {
    expect(map.shape).toEqual([2, 1024, 7, 7]);
    const artifacts = await loadTfjsModel(join(ROOT, 'node_modules/@vladmandic/human/models/faceres.json'));
    const reference = await importerOutput(artifacts, FACERES_ENCODER.layer, toNhwc(frames));
    expect(relativeError(toNhwc(map).data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
    // The weights are the network's parameters, supplied by the resolved encoder: the 3.2 M that the map needs
    // (3.49 M with the heads after it), imported once per process.
    const own = faceres.weights!.tensors;
    expect([...own.values()].reduce((n, t) => n + numel(t.shape), 0)).toBeGreaterThan(3.1e6);
    const [name] = own.keys();
    expect((await resolveNpmEncoder(FACERES_ENCODER)).weights!.tensors.get(name)).toBe(own.get(name));
  });

  it('agrees with TensorFlow.js (wasm) running human\'s model files', async () => {
    setWasmPaths(join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    await tf.ready();
    const a = await loadTfjsModel(join(ROOT, 'node_modules/@vladmandic/human/models/faceres.json'));
    const model = await tf.loadGraphModel({
      load: async () => ({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs as tf.io.WeightsManifestEntry[], weightData: a.weightData.slice().buffer, format: a.format }),
    });
    const pixels = toNhwc(frames);
    const x = tf.tensor(pixels.data as Float32Array, [...pixels.shape]);
    const y = model.execute(x, FACERES_ENCODER.layer) as tf.Tensor;
    try {
      expect(y.shape).toEqual([2, 7, 7, 1024]);
      expect(relativeError(toNhwc(map).data as Float32Array, y.dataSync() as Float32Array)).toBeLessThan(1e-4);
    } finally {
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('concatenates face_expression\'s dense3 map, fed the frames halved to 112 px', async () => {
    const both = await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION] });
    const concat = await runNetwork(both, frames);
    expect(concat.shape).toEqual([2, 1280, 7, 7]);
    expect(relativeError(channels(concat, 0, 1024).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    const { artifacts } = await readFaceApiModel(join(ROOT, 'node_modules/@vladmandic/face-api/model'), 'face_expression');
    const reference = await importerOutput(artifacts, 'dense3/out', toNhwc(halve(frames)));
    expect(relativeError(toNhwc(channels(concat, 1024, 1280)).data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
  });

  it('concatenates age_gender\'s exit-flow map after face_expression\'s, both fed the frames halved to 112 px', async () => {
    const three = await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, FACEAPI_AGE_GENDER] });
    const wide = await runNetwork(three, frames);
    expect(wide.shape).toEqual([2, 1792, 7, 7]);
    expect(relativeError(channels(wide, 0, 1024).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    const { artifacts } = await readFaceApiModel(join(ROOT, 'node_modules/@vladmandic/face-api/model'), 'age_gender');
    const reference = await importerOutput(artifacts, 'exit_flow/relu', toNhwc(halve(frames)));
    expect(reference.shape).toEqual([2, 7, 7, 512]);
    expect(relativeError(toNhwc(channels(wide, 1280, 1792)).data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
  });

  it('zooms: a network with "zoom" reads the centre of the frames, 1/zoom of their side, resized to its input', async () => {
    // zoom 2: the central 112×112 of the 224 frames, which is age_gender's input size (no resize).
    const zoomed = await runNetwork(await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, { ...FACEAPI_AGE_GENDER, zoom: 2 }] }), frames);
    expect(zoomed.shape).toEqual([2, 1792, 7, 7]);
    expect(relativeError(channels(zoomed, 0, 1024).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    const { artifacts } = await readFaceApiModel(join(ROOT, 'node_modules/@vladmandic/face-api/model'), 'age_gender');
    const reference = await importerOutput(artifacts, 'exit_flow/relu', toNhwc(centre(frames, 56)));
    expect(relativeError(toNhwc(channels(zoomed, 1280, 1792)).data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
    // zoom 1.2: a 186-pixel centre (margin 19 on each side), resized to 112; another map than the whole frames'.
    const closer = await runNetwork(await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, { ...FACEAPI_AGE_GENDER, zoom: 1.2 }] }), frames);
    const whole = await importerOutput(artifacts, 'exit_flow/relu', toNhwc(halve(frames)));
    expect(relativeError(toNhwc(channels(closer, 1280, 1792)).data as Float32Array, whole.data as Float32Array)).toBeGreaterThan(0.1);

    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...FACEAPI_AGE_GENDER, zoom: 0.5 }] })).rejects.toThrow(/bad `concat`.*zoom/);
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, zoom: 1.2, train_from: 'conv_pw_12_relu/clip_by_value' })).rejects.toThrow(/not supported with `zoom`/);
  });

  it('appends face_recognition\'s 2×2 map pooled to every token, fed the frames resized to 150 px; unpooled it is refused', async () => {
    const three = await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION, { ...FACEAPI_RECOGNITION, pool: 'global' }] });
    const wide = await runNetwork(three, frames);
    expect(wide.shape).toEqual([2, 1536, 7, 7]);
    expect(relativeError(channels(wide, 0, 1024).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    // One 256-vector per face, the same at all 49 cells.
    const pooled = channels(wide, 1280, 1536).data as Float32Array;
    const perFace = [0, 1].map((f) => Float32Array.from({ length: 256 }, (_, c) => pooled[(f * 256 + c) * 49]));
    for (let f = 0; f < 2; f++) for (let c = 0; c < 256; c++) for (let p = 0; p < 49; p++) expect(pooled[(f * 256 + c) * 49 + p]).toBe(perFace[f][c]);
    // The network's own 2×2 map, averaged, on the crops resized to 150 by sharp rather than from 224 in the graph:
    // close for the same face (two resamplings apart), far from the other face's.
    const { artifacts } = await readFaceApiModel(join(ROOT, 'node_modules/@vladmandic/face-api/model'), 'face_recognition');
    const reference = await importerOutput(artifacts, FACEAPI_RECOGNITION.layer, toNhwc(await preprocessFrames(crops, npmPreprocess(150))));
    expect(reference.shape).toEqual([2, 2, 2, 256]);
    const gap = [0, 1].map((f) => Float32Array.from({ length: 256 }, (_, c) => [0, 1, 2, 3].reduce((sum, p) => sum + (reference.data as Float32Array)[(f * 4 + p) * 256 + c], 0) / 4));
    const same = [0, 1].map((f) => relativeError(perFace[f], gap[f]));
    const other = [0, 1].map((f) => relativeError(perFace[f], gap[1 - f]));
    for (let f = 0; f < 2; f++) expect(same[f]).toBeLessThan(other[f] / 3);
    for (let f = 0; f < 2; f++) expect(same[f]).toBeLessThan(0.15);

    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, concat: [FACEAPI_RECOGNITION] })).rejects.toThrow(/has a 2×2 map, .* 7×7 \(add "pool": "global"/);
  });

  it('appends human\'s emotion map, fed gray in −1..1 and its 8×8 grid averaged to 7×7 by 2×2 windows ("pool": "fit")', async () => {
    // zoom 3.5: the central 64×64 of the 224 frames, the emotion net's input size (no resize).
    const wide = await runNetwork(await resolveNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...HUMAN_EMOTION, zoom: 3.5, pool: 'fit' }] }), frames);
    expect(wide.shape).toEqual([2, 1280, 7, 7]);
    expect(relativeError(channels(wide, 0, 1024).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    // The network's own map for the same pixels made gray by hand (human's weights), then the 2×2 windows' means.
    const middle = centre(frames, 80);
    const rgb = middle.data as Float32Array;
    const gray = new Float32Array(2 * 64 * 64);
    for (let f = 0; f < 2; f++) {
      for (let p = 0; p < 64 * 64; p++) {
        const [r, g, b] = [0, 1, 2].map((k) => rgb[(f * 3 + k) * 64 * 64 + p]);
        gray[f * 64 * 64 + p] = ((0.2989 * r + 0.587 * g + 0.114 * b) / 255 - 0.5) * 2;
      }
    }
    const own = await importerOutput(await loadTfjsModel(join(ROOT, 'node_modules/@vladmandic/human/models/emotion.json')), HUMAN_EMOTION.layer, f32([2, 64, 64, 1], gray));
    expect(own.shape).toEqual([2, 8, 8, 256]);
    const at = (f: number, y: number, x: number, c: number) => (own.data as Float32Array)[((f * 8 + y) * 8 + x) * 256 + c];
    const expected = new Float32Array(2 * 7 * 7 * 256);
    for (let f = 0; f < 2; f++) for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 256; c++) {
      expected[((f * 7 + y) * 7 + x) * 256 + c] = (at(f, y, x, c) + at(f, y, x + 1, c) + at(f, y + 1, x, c) + at(f, y + 1, x + 1, c)) / 4;
    }
    expect(relativeError(toNhwc(channels(wide, 1024, 1280)).data as Float32Array, expected)).toBeLessThan(1e-5);

    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, concat: [HUMAN_EMOTION] })).rejects.toThrow(/has a 8×8 map, .* 7×7 .*"pool": "fit"/);
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, concat: [{ ...FACEAPI_RECOGNITION, pool: 'fit' }] })).rejects.toThrow(/"fit" needs a finer map than 7×7/);
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, pool: 'global' })).rejects.toThrow(/"pool" belongs on a `concat` entry/);
  });

  it('splits at train_from: the frozen prefix and the tail after it make the whole map; the tail\'s weights leave the encoder\'s', async () => {
    const TRAIN_FROM = 'conv_pw_12_relu/clip_by_value';
    const resolved = await resolveNpmEncoder({ ...FACERES_ENCODER, train_from: TRAIN_FROM });
    const split = resolved.split!;
    expect([split.channels, split.grid]).toEqual([1024, 7]);
    // The tail is the last depthwise and pointwise block: 3×3×1024 + 1024×1024 weights and their batch-norm terms.
    const tailSize = [...split.initial.values()].reduce((n, t) => n + numel(t.shape), 0);
    expect(tailSize).toBeGreaterThan(1.05e6);
    expect(tailSize).toBeLessThan(1.07e6);
    for (const name of split.initial.keys()) expect(resolved.weights!.tensors.has(name)).toBe(false);
    expect(resolved.weights!.tensors.size + split.initial.size).toBe(faceres.weights!.tensors.size);
    expect(relativeError((await runNetwork(resolved, frames)).data as Float32Array, map.data as Float32Array)).toBeLessThan(1e-6);
    const prefix = await runNetwork({ network: split.prefix, weights: resolved.weights }, frames);
    expect(prefix.shape).toEqual([2, 1024, 7, 7]);
    expect(relativeError(prefix.data as Float32Array, map.data as Float32Array)).toBeGreaterThan(0.1);

    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, train_from: 'conv_pw_99' })).rejects.toThrow(/no node named conv_pw_99/);
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, train_from: FACERES_ENCODER.layer })).rejects.toThrow(/not a tensor before/);
    await expect(resolveNpmEncoder({ ...FACERES_ENCODER, train_from: TRAIN_FROM, concat: [FACEAPI_EXPRESSION] })).rejects.toThrow(/not supported with `concat`/);
  });

  it('is a model directory\'s default encoder: save, load and answer with a 7×7×1024 feature-map model', async () => {
    const config: ModelDirConfigInput = {
      face_llava: {
        vision: { type: 'feature_map', channels: 1024, grid: 7 },
        cross_attn: { cross_attn_type: 'frgca', num_heads: 2, rpp_mask: true },
        llm: { vocab_size: 32000, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, tie_word_embeddings: true },
      },
      preprocess: npmPreprocess(224),
      encoder: FACERES_ENCODER,
      generation: { max_new_tokens: 4 },
      tasks: ['deepfake'],
    };
    const encoder = featureMapEncoder({ type: 'feature_map', channels: 1024, grid: 7 }, faceres.network);
    expect(encoder.frameShape).toEqual([3, 224, 224]);
    const own = faceres.weights!.tensors;
    const dir = await savePretrained(join(root, 'faceres-tiny'), { config, weights: randomWeights(config, 3, faceres) }); // the registry checks the weights
    expect([...openSafetensors(join(dir, 'model.safetensors')).tensors.keys()].some((name) => own.has(name))).toBe(false);

    const loaded = await loadPretrained(dir);
    try {
      expect(loaded.model.encoder.width).toBe(1024);
      const ids = encodePrompt([{ role: 'user', content: withImages('Is this face real or fake?', 1) }], loaded.tokenizer);
      const landmarks = f32([1, 68, 2], Array.from({ length: 136 }, (_, i) => 0.2 + 0.6 * ((i * 37) % 68) / 68));
      const [answer] = await loaded.model.generate([{ ids, frames: await preprocessFrames(crops.slice(0, 1), loaded.preprocess), landmarks }], {
        tokenizer: loaded.tokenizer,
        maxNewTokens: loaded.generation.max_new_tokens,
        stopIds: [],
      });
      expect(answer.ids).toHaveLength(4);
    } finally {
      await loaded.dispose();
    }
  });

  it('widens a trained model with face_expression: the projector reads 1280 channels and the model answers as before', async () => {
    const config = tinyNpmConfig(FACERES_ENCODER, { channels: 1024, grid: 7, inputSize: 224 });
    const random = mulberry32(5);
    const trained = await savePretrained(join(root, 'to-widen'), { config, weights: randomWeights(config, 5, faceres) });
    const wide = await widenEncoder(trained, join(root, 'widened'), [FACEAPI_EXPRESSION]);
    const stored = openSafetensors(join(wide, 'model.safetensors')).load(PROJECTOR_INPUT_WEIGHT);
    expect(stored.shape).toEqual([32, 1280]);
    const w = stored.data as Float32Array;
    expect(Array.from({ length: 32 }, (_, r) => w.subarray(r * 1280 + 1024, (r + 1) * 1280).every((x) => x === 0)).every(Boolean)).toBe(true);

    const widened = await readModelDirConfig(wide);
    expect(widened.encoder).toEqual({ ...FACERES_ENCODER, concat: [FACEAPI_EXPRESSION] });
    expect(widened.face_llava.vision).toMatchObject({ channels: 1280 });
    expect(await encodingGap(trained, wide, frames)).toBeLessThan(1e-6);
    await expect(widenEncoder(wide, join(root, 'twice'), [])).rejects.toThrow(/no network to append/);

    // A model reading standardized tokens widens the same way: the new channels pass as they are (μ 0, σ 1).
    const stats = { mean: f32([1024], Array.from({ length: 1024 }, () => random() - 0.5)), std: f32([1024], Array.from({ length: 1024 }, () => 0.2 + random())) };
    const standardized = await standardizeModel(trained, join(root, 'standardized'), stats);
    const wideStandardized = await widenEncoder(standardized, join(root, 'widened-standardized'), [FACEAPI_EXPRESSION]);
    const std = Array.from(openSafetensors(join(wideStandardized, 'model.safetensors')).load(TOKEN_NORM_STD).data as Float32Array);
    expect(std.slice(0, 1024)).toEqual(Array.from(stats.std.data as Float32Array));
    expect(std.slice(1024).every((x) => x === 1)).toBe(true);
    expect(await encodingGap(standardized, wideStandardized, frames)).toBeLessThan(1e-5);
  });

  it('builds the default preset: 49 tokens of 1024 per frame and a ~15 M-parameter decoder', () => {
    const params = modelParams(DEFAULT_MODEL_CONFIG, faceres.network).filter((p) => !faceres.weights!.tensors.has(p.name));
    const decoder = params.filter((p) => /^model\.(embed_tokens|layers|norm)\./.test(p.name));
    const count = (list: typeof params) => list.reduce((n, p) => n + numel(p.shape), 0);
    expect(count(decoder)).toBeGreaterThan(15e6);
    expect(count(decoder)).toBeLessThan(16e6);
    expect(count(params)).toBeLessThan(17e6);
  });

  it('gives `train --config default` a valid model directory config behind the registered faceres encoder', () => {
    const config = parseModelDirConfig({ ...defaultModelDirConfig(), tasks: ['expression', 'age'] });
    expect(config.encoder).toEqual(FACERES_ENCODER);
    expect(isRegisteredNpmEncoder(FACERES_ENCODER)).toBe(true);
    expect(config.preprocess).toEqual(npmPreprocess(224));
    expect(config.face_llava).toEqual(DEFAULT_MODEL_CONFIG);
  });
});
