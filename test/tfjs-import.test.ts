// The TF.js importer against TensorFlow.js itself (wasm backend, binaries from node_modules, nothing fetched):
// the same model files run through tfjs and through our engine on the same real face images must agree to
// ~1e-4 of the output's scale, at the final outputs and at the intermediate maps the encoder study uses.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  compileImported,
  decodeWeights,
  importTfjsModel,
  loadTfjsModel,
  readFaceApiModel,
  TfjsImportError,
  type TfjsArtifacts,
  type TfWeightSpec,
} from '../src/graph/tfjs-import.js';
import { tfAttr, type TfNodeDef } from '../src/graph/tfjs-import/artifacts.js';
import { ZipImages } from '../src/data/zip.js';

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HUMAN = join(ROOT, 'node_modules/@vladmandic/human/models');
const FACEAPI = join(ROOT, 'node_modules/@vladmandic/face-api/model');
const WASM = join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
const PACK = join(ROOT, '../shared/data/realorfake/images.zip');

beforeAll(async () => {
  setWasmPaths(WASM);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
});

/** Two real faces (the realorfake pack) resized to size×size, RGB in 0..255, NHWC; a smooth pattern without the data. */
async function faces(size: number): Promise<Float32Array> {
  const n = 2;
  const out = new Float32Array(n * size * size * 3);
  if (!existsSync(PACK)) {
    for (let i = 0; i < out.length; i++) out[i] = 127.5 + 120 * Math.sin(i * 0.0137 + (i % 3));
    return out;
  }
  const zip = await ZipImages.open(PACK);
  try {
    const names = [...zip.names()].filter((f) => /\.jpe?g$/i.test(f));
    const picks = [names[0], names[names.length - 1]]; // one fake, one real
    for (let i = 0; i < n; i++) {
      const { data } = await sharp(await zip.read(picks[i])).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      for (let k = 0; k < size * size * 3; k++) out[i * size * size * 3 + k] = data[k];
    }
  } finally {
    zip.close();
  }
  return out;
}

function tfjsHandler(a: TfjsArtifacts): tf.io.IOHandler {
  return {
    load: async () => ({
      modelTopology: a.modelTopology,
      weightSpecs: a.weightSpecs as tf.io.WeightsManifestEntry[],
      weightData: a.weightData.slice().buffer,
      format: a.format,
    }),
  };
}

/** Runs the model both ways and returns, per output, max |ours − tfjs| relative to max |tfjs|. */
async function compare(a: TfjsArtifacts, pixels: Float32Array, shape: number[], outputs: string[]): Promise<Record<string, number>> {
  const imported = importTfjsModel(a, { outputs });
  const session = await compileImported(imported, { threads: 1 });
  const ours = await session.run({ [imported.inputs[0].name]: { dtype: 'float32', shape, data: pixels } });
  const model = await tf.loadGraphModel(tfjsHandler(a));
  const x = tf.tensor(pixels, shape);
  const refs = model.execute(x, outputs) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(refs) ? refs : [refs];
  const errors: Record<string, number> = {};
  outputs.forEach((name, i) => {
    const ref = list[i].dataSync() as Float32Array;
    const got = ours[name].data as Float32Array;
    expect(ours[name].shape).toEqual(list[i].shape);
    let err = 0;
    let scale = 0;
    for (let k = 0; k < ref.length; k++) {
      err = Math.max(err, Math.abs(ref[k] - got[k]));
      scale = Math.max(scale, Math.abs(ref[k]));
    }
    errors[name] = err / scale;
  });
  tf.dispose([x, ...list]);
  model.dispose();
  await session.release();
  return errors;
}

describe('TF.js weights', () => {
  it('dequantizes uint8, uint16 and float16 weights exactly as tfjs does', () => {
    const specs: TfWeightSpec[] = [
      { name: 'u8', shape: [5, 3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.0137, min: -1.3 } },
      { name: 'u16', shape: [7], dtype: 'float32', quantization: { dtype: 'uint16', scale: 3.1e-5, min: -0.9 } },
      { name: 'f16', shape: [2, 2, 3], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'f32', shape: [3], dtype: 'float32' },
      { name: 'i32', shape: [4], dtype: 'int32' },
    ];
    const bytes = new Uint8Array(15 + 14 + 24 + 12 + 16);
    for (let i = 0; i < 15; i++) bytes[i] = (i * 37) % 256;
    const u16 = new Uint16Array(7).map((_, i) => i * 9001);
    bytes.set(new Uint8Array(u16.buffer), 15);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0x8400, 0x3555, 0x0000, 0x8000, 0x4248, 0x2e66, 0xbc00]);
    bytes.set(new Uint8Array(f16.buffer), 29);
    bytes.set(new Uint8Array(Float32Array.from([1.5, -2.25, 1e-8]).buffer), 53);
    bytes.set(new Uint8Array(Int32Array.from([1, -1, 224, 7]).buffer), 65);
    const ours = decodeWeights(specs, bytes);
    const ref = tf.io.decodeWeights(bytes.slice().buffer, specs as tf.io.WeightsManifestEntry[]);
    for (const s of specs) {
      expect(Array.from(ours.get(s.name)!.data as Float32Array), s.name).toEqual(Array.from(ref[s.name].dataSync()));
      expect(ours.get(s.name)!.shape).toEqual(s.shape);
    }
  });
});

describe('graph models (@vladmandic/human)', () => {
  it('faceres: float16 MobileNet (depthwise, BN as Mul/Add, ReLU6 as Min/Max, _FusedMatMul) matches tfjs', async () => {
    const model = await loadTfjsModel(join(HUMAN, 'faceres.json'));
    const errors = await compare(model, await faces(224), [2, 224, 224, 3], ['conv_pw_13_relu/clip_by_value', 'global_pooling/Mean', 'feats/Relu', 'age_pred/Softmax', 'gender_pred/Sigmoid']);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(1e-4);
  });

  it('blazeface: the four head outputs (scores and regressors of both grids) match tfjs', async () => {
    const model = await loadTfjsModel(join(HUMAN, 'blazeface.json'));
    // Its Reshapes name a batch of 1: one of the two faces.
    const px = (await faces(256)).subarray(0, 256 * 256 * 3).map((v) => v / 127.5 - 1);
    const errors = await compare(model, px, [1, 256, 256, 3], ['Identity', 'Identity_1', 'Identity_2', 'Identity_3']);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(1e-4);
  });

  it('facemesh: Prelu, channel Pad, fused conv + Prelu, Reshape outputs match tfjs', async () => {
    const model = await loadTfjsModel(join(HUMAN, 'facemesh.json'));
    const px = (await faces(192)).map((v) => v / 255);
    const errors = await compare(model, px, [2, 192, 192, 3], ['StatefulPartitionedCall/model_1/p_re_lu_15/Relu', 'Identity_2', 'Identity_1']);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(1e-4);
  });

  it('exposes intermediate maps with their TF shapes, NHWC or NCHW', async () => {
    const model = await loadTfjsModel(join(HUMAN, 'faceres.json'));
    const nhwc = importTfjsModel(model, { outputs: ['conv_pw_13_relu/clip_by_value'] });
    expect(nhwc.outputs[0].tfShape).toEqual(['batch', 7, 7, 1024]);
    expect(nhwc.outputs[0].shape).toEqual(['batch', 7, 7, 1024]);
    const nchw = importTfjsModel(model, { outputs: ['conv_pw_13_relu/clip_by_value'], outputLayout: 'nchw', inputLayout: 'nchw', batch: 1 });
    expect(nchw.outputs[0].shape).toEqual([1, 1024, 7, 7]);
    expect(nchw.inputs[0].shape).toEqual([1, 3, 224, 224]);
    // Only what the requested outputs need is rebuilt: no heads here.
    expect(nhwc.opCounts._FusedMatMul).toBeUndefined();
  });

  it('names unsupported ops and unknown outputs', async () => {
    const model = await loadTfjsModel(join(HUMAN, 'antispoof.json'));
    const nodes = structuredClone(model.modelTopology.node) as { name: string; op: string }[];
    nodes.find((n) => n.op === 'Reshape')!.op = 'StridedSlice';
    const broken: TfjsArtifacts = { ...model, modelTopology: { ...model.modelTopology, node: nodes } };
    expect(() => importTfjsModel(broken)).toThrow(TfjsImportError);
    expect(() => importTfjsModel(broken)).toThrow(/unsupported TF op: StridedSlice \(1 node, e\.g\. StatefulPartitionedCall\/sequential\/flatten\/Reshape\)/);
    // The maps before the unsupported node still import.
    expect(() => importTfjsModel(broken, { outputs: ['StatefulPartitionedCall/sequential/activation_2/Relu'] })).not.toThrow();
    expect(() => importTfjsModel(model, { outputs: ['no/such/node'] })).toThrow(/no node named no\/such\/node/);
  });
});

describe('a synthetic GraphDef', () => {
  it('covers the remaining ops (fused depthwise, fused batch norm, Elu/Selu/LeakyRelu, PadV2, reductions, Squeeze, …) like tfjs', async () => {
    const consts: { name: string; shape: number[]; values: number[]; dtype?: 'float32' | 'int32' }[] = [];
    const nodes: TfNodeDef[] = [];
    let seed = 3;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const constant = (name: string, shape: number[], values?: number[], dtype: 'float32' | 'int32' = 'float32') => {
      const n = shape.reduce((a, b) => a * b, 1);
      consts.push({ name, shape, values: values ?? Array.from({ length: n }, rnd), dtype });
      nodes.push({ name, op: 'Const', attr: { dtype: tfAttr.type(dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32'), value: { tensor: { dtype: dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } });
      return name;
    };
    const node = (name: string, op: string, input: string[], attr: TfNodeDef['attr'] = {}) => {
      nodes.push({ name, op, input, attr: { T: tfAttr.type('DT_FLOAT'), ...attr } });
      return name;
    };
    const conv = (strides: number, padding: string) => ({ strides: tfAttr.ints([1, strides, strides, 1]), padding: tfAttr.s(padding), data_format: tfAttr.s('NHWC'), dilations: tfAttr.ints([1, 1, 1, 1]) });
    nodes.push({ name: 'x', op: 'Placeholder', attr: { dtype: tfAttr.type('DT_FLOAT'), shape: tfAttr.shape([-1, 7, 7, 3]) } });
    const a = node('a', '_FusedConv2D', ['x', constant('w1', [3, 3, 3, 4]), constant('b1', [4])], { ...conv(2, 'SAME'), fused_ops: tfAttr.strings(['BiasAdd', 'LeakyRelu']), num_args: tfAttr.i(1), leakyrelu_alpha: tfAttr.f(0.1) });
    const b = node('b', 'FusedDepthwiseConv2dNative', [a, constant('w2', [3, 3, 4, 2]), constant('b2', [8])], { ...conv(1, 'SAME'), fused_ops: tfAttr.strings(['BiasAdd', 'Relu6']), num_args: tfAttr.i(1) });
    const bn = node('bn', 'FusedBatchNormV3', [b, constant('g', [8]), constant('beta', [8]), constant('mu', [8]), constant('var', [8], Array.from({ length: 8 }, (_, i) => 0.5 + i / 8))], { epsilon: tfAttr.f(1e-3), data_format: tfAttr.s('NHWC'), is_training: tfAttr.b(false) });
    const e = node('e', 'Elu', [bn]);
    const se = node('se', 'Selu', [e]);
    const sq = node('sq', 'Square', [se]);
    const rs = node('rs', 'Rsqrt', [node('sq1', 'AddV2', [sq, constant('one', [], [1])])]);
    const sd = node('sd', 'SquaredDifference', [rs, node('tanh', 'Tanh', [e])]);
    const ex = node('ex', 'Exp', [node('neg', 'Neg', [sd])]);
    const lg = node('lg', 'Log', [node('lg1', 'AddV2', [node('abs', 'Abs', [bn]), constant('one2', [], [1])])]);
    const sum = node('sum', 'Sum', [ex, constant('ax3', [1], [3], 'int32')], { keep_dims: tfAttr.b(true) });
    const mx = node('mx', 'Max', [lg, constant('ax3b', [1], [-1], 'int32')], { keep_dims: tfAttr.b(true) });
    const cat = node('cat', 'ConcatV2', [sum, mx, ex, constant('axis', [], [3], 'int32')], { N: tfAttr.i(3) });
    const pad = node('pad', 'PadV2', [cat, constant('paddings', [4, 2], [0, 0, 1, 0, 0, 2, 0, 0], 'int32'), constant('pv', [], [-0.5])]);
    const pool = node('pool', 'AvgPool', [pad], { ksize: tfAttr.ints([1, 2, 2, 1]), ...conv(2, 'SAME') });
    const rowMean = node('rowMean', 'Mean', [pool, constant('ax1', [1], [1], 'int32')], { keep_dims: tfAttr.b(false) }); // [n, W, C]: layout-sensitive
    const mean = node('mean', 'Mean', [pool, constant('ax12', [2], [1, 2], 'int32')], { keep_dims: tfAttr.b(true) });
    const sqz = node('sqz', 'Squeeze', [mean], { squeeze_dims: tfAttr.ints([1, 2]) });
    const ed = node('ed', 'ExpandDims', [sqz, constant('ax0', [], [1], 'int32')]);
    const mm = node('mm', '_FusedMatMul', [node('flat', 'Reshape', [ed, constant('shape', [2], [-1, 10], 'int32')]), constant('w3', [5, 10]), constant('b3', [5])], { transpose_a: tfAttr.b(false), transpose_b: tfAttr.b(true), fused_ops: tfAttr.strings(['BiasAdd', 'Elu']), num_args: tfAttr.i(1) });
    const out = node('out', 'Reciprocal', [node('sig', 'AddV2', [node('sg', 'Sigmoid', [mm]), constant('two', [], [2])])]);

    const bytes = consts.map((c) => new Uint8Array((c.dtype === 'int32' ? Int32Array.from(c.values) : Float32Array.from(c.values)).buffer));
    const weightData = new Uint8Array(bytes.reduce((n, x) => n + x.byteLength, 0));
    bytes.reduce((off, x) => (weightData.set(x, off), off + x.byteLength), 0);
    const artifacts: TfjsArtifacts = {
      format: 'graph-model',
      modelTopology: { node: nodes, versions: { producer: 1 } },
      weightSpecs: consts.map((c) => ({ name: c.name, shape: c.shape, dtype: c.dtype ?? 'float32' })),
      weightData,
    };
    const px = Float32Array.from({ length: 2 * 7 * 7 * 3 }, rnd);
    // Reference on tfjs' cpu backend: the wasm backend's fused matmul adds the bias wrongly with transpose_b
    // (tfjs 4.22: x·Bᵀ + b comes out with the bias misplaced), the cpu backend gets it right.
    await tf.setBackend('cpu');
    try {
      const errors = await compare(artifacts, px, [2, 7, 7, 3], [cat, pad, rowMean, pool, sqz, ed, out]);
      for (const [name, err] of Object.entries(errors)) expect(err, name).toBeLessThan(1e-4);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('face-api networks (weights manifest + described architecture)', () => {
  it('face_recognition (uint8 ResNet): our graph matches tfjs on the same GraphDef and face-api\'s own forward pass', async () => {
    const { artifacts, nodes } = await readFaceApiModel(FACEAPI, 'face_recognition');
    const px = await faces(150);
    const errors = await compare(artifacts, px, [2, 150, 150, 3], [nodes.map, nodes.descriptor]);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(1e-4);

    // The described architecture is face-api's: compare with FaceRecognitionNet.forwardInput.
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
      nets: { faceRecognitionNet: { loadFromDisk(dir: string): Promise<void>; forwardInput(input: unknown): tf.Tensor } };
      toNetInput(input: unknown): Promise<unknown>;
    };
    await faceapi.nets.faceRecognitionNet.loadFromDisk(FACEAPI);
    const x = tf.tensor4d(px, [2, 150, 150, 3]);
    const ref = faceapi.nets.faceRecognitionNet.forwardInput(await faceapi.toNetInput(tf.unstack(x))).dataSync();
    const imported = importTfjsModel(artifacts, { outputs: [nodes.descriptor] });
    const session = await compileImported(imported, { threads: 1 });
    const ours = (await session.run({ input: { dtype: 'float32', shape: [2, 150, 150, 3], data: px } }))[nodes.descriptor].data as Float32Array;
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - ours[i]));
    expect(err).toBeLessThan(1e-5); // descriptors are O(0.1)
    tf.dispose(x);
  });
});

describe('layers models', () => {
  it('a functional Keras model (conv, depthwise, separable, BN, pools, add, concat, pad, dense) matches tfjs predict', async () => {
    const input = tf.input({ shape: [15, 15, 3] });
    const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(c1) as tf.SymbolicTensor;
    const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }).apply(bn) as tf.SymbolicTensor;
    const sep = tf.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(bn) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([dw, sep]) as tf.SymbolicTensor;
    const padded = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(sum) as tf.SymbolicTensor;
    const pooled = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(padded) as tf.SymbolicTensor;
    const side = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid' }).apply(pooled) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate().apply([pooled, side]) as tf.SymbolicTensor;
    const avg = tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }).apply(cat) as tf.SymbolicTensor;
    const head1 = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(tf.layers.globalAveragePooling2d({}).apply(cat)) as tf.SymbolicTensor;
    const head2 = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(avg)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [head1, head2] });
    const bnLayer = model.getLayer('bn');
    bnLayer.setWeights(bnLayer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.5 : -1, i === 3 ? 2 : 1)));

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const artifacts: TfjsArtifacts = {
      format: 'layers-model',
      modelTopology: saved!.modelTopology as Record<string, unknown>,
      weightSpecs: saved!.weightSpecs as TfWeightSpec[],
      weightData: new Uint8Array(saved!.weightData as ArrayBuffer),
    };
    const x = tf.randomUniform([2, 15, 15, 3], -1, 1, 'float32', 17);
    const refs = model.predict(x) as tf.Tensor[];
    const imported = importTfjsModel(artifacts, { outputs: [head1.sourceLayer.name, head2.sourceLayer.name, 'sum'] });
    const session = await compileImported(imported, { threads: 1 });
    const ours = await session.run({ [imported.inputs[0].name]: { dtype: 'float32', shape: [2, 15, 15, 3], data: x.dataSync() as Float32Array } });
    const sumRef = tf.model({ inputs: input, outputs: sum }).predict(x) as tf.Tensor;
    const pairs: [string, tf.Tensor][] = [[head1.sourceLayer.name, refs[0]], [head2.sourceLayer.name, refs[1]], ['sum', sumRef]];
    for (const [name, ref] of pairs) {
      const r = ref.dataSync();
      const o = ours[name].data as Float32Array;
      expect(ours[name].shape, name).toEqual(ref.shape);
      let err = 0;
      let scale = 0;
      for (let i = 0; i < r.length; i++) {
        err = Math.max(err, Math.abs(r[i] - o[i]));
        scale = Math.max(scale, Math.abs(r[i]));
      }
      expect(err / scale, name).toBeLessThan(1e-4);
    }
    tf.dispose([x, sumRef, ...refs]);
  });
});
