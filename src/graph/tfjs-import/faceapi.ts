// face-api.js networks (@vladmandic/face-api/model): these ship as a weights manifest and shards only — the
// architecture lives in face-api's code. This module writes that architecture out as a TF GraphDef over the same
// weights (node for node what face-api's forward pass does), so the graph-model importer rebuilds it like any
// other TF.js model, and tfjs can execute the same artifacts as a reference.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  TfjsImportError,
  readWeightsManifest,
  tfAttr,
  type TfjsArtifacts,
  type TfNodeDef,
  type TfWeightSpec,
  type TfWeightsGroup,
} from './artifacts.js';

/** The face-api networks this module can describe. */
export const FACEAPI_NETS = {
  /** dlib's ResNet-34-like face recognition net: 150×150 RGB → 128-d descriptor. Last spatial map 2×2×256. */
  face_recognition: { file: 'face_recognition_model', inputSize: 150 },
  /** FaceFeatureExtractor (4 dense blocks of separable convs) + FC to 7 expressions, 112×112. Map 7×7×256. */
  face_expression: { file: 'face_expression_model', inputSize: 112 },
  /** The same extractor trained for 68 landmarks (FC to 136 coordinates), 112×112. Map 7×7×256. */
  face_landmark_68: { file: 'face_landmark_68_model', inputSize: 112 },
  /** TinyXception (2 middle blocks) + two FC heads, 112×112: `age` (a regression, in years) and `gender` (softmax
   * over male, female). Map 7×7×512. */
  age_gender: { file: 'age_gender_model', inputSize: 112 },
} as const;
export type FaceApiNet = keyof typeof FACEAPI_NETS;

/** face-api's input normalization: RGB pixels in 0..255 minus this mean, divided by 255. */
export const FACEAPI_MEAN_RGB = [122.782, 117.001, 104.298] as const;

interface Shape3 {
  h: number;
  w: number;
  c: number;
}

/** Writes GraphDef nodes, tracking NHWC shapes, and collects constants to append to the weights. */
class GraphDefBuilder {
  readonly nodes: TfNodeDef[] = [];
  readonly shapes = new Map<string, Shape3>();
  readonly extraSpecs: TfWeightSpec[] = [];
  readonly extraData: Uint8Array[] = [];
  private readonly declared = new Set<string>();

  constructor(private readonly specs: ReadonlyMap<string, TfWeightSpec>) {}

  private node(name: string, op: string, input: string[], attr: TfNodeDef['attr'] = {}): string {
    if (this.declared.has(name)) throw new TfjsImportError(`face-api graph: node ${name} declared twice`);
    this.declared.add(name);
    this.nodes.push({ name, op, input, attr: { T: tfAttr.type('DT_FLOAT'), ...attr } });
    return name;
  }

  placeholder(name: string, size: number, channels: number): string {
    this.node(name, 'Placeholder', [], { dtype: tfAttr.type('DT_FLOAT'), shape: tfAttr.shape([-1, size, size, channels]) });
    this.shapes.set(name, { h: size, w: size, c: channels });
    return name;
  }

  /** A Const node for a weight of the face-api manifest. */
  weight(name: string): string {
    if (this.declared.has(name)) return name;
    const spec = this.specs.get(name);
    if (!spec) throw new TfjsImportError(`face-api graph: the manifest has no weight ${name}`);
    return this.constNode(name, spec.shape, 'DT_FLOAT');
  }

  /** A Const node for a new constant, appended to the weights. */
  constant(name: string, shape: number[], values: readonly number[], dtype: 'float32' | 'int32' = 'float32'): string {
    const data = dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
    this.extraSpecs.push({ name, shape, dtype });
    this.extraData.push(new Uint8Array(data.buffer));
    return this.constNode(name, shape, dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32');
  }

  private constNode(name: string, shape: number[], dtype: string): string {
    this.declared.add(name);
    this.nodes.push({
      name,
      op: 'Const',
      input: [],
      attr: {
        value: { tensor: { dtype, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } },
        dtype: tfAttr.type(dtype),
      },
    });
    return name;
  }

  shape(x: string): Shape3 {
    const s = this.shapes.get(x);
    if (!s) throw new TfjsImportError(`face-api graph: no shape for ${x}`);
    return s;
  }

  private spatial(x: string, kernel: number, stride: number, padding: 'SAME' | 'VALID'): { h: number; w: number } {
    const { h, w } = this.shape(x);
    const f = (n: number) => (padding === 'SAME' ? Math.ceil(n / stride) : Math.floor((n - kernel) / stride) + 1);
    return { h: f(h), w: f(w) };
  }

  conv2d(name: string, x: string, filter: string, stride: number, padding: 'SAME' | 'VALID'): string {
    const [k, , , cout] = this.specs.get(filter)!.shape;
    this.weight(filter);
    this.node(name, 'Conv2D', [x, filter], {
      strides: tfAttr.ints([1, stride, stride, 1]),
      padding: tfAttr.s(padding),
      data_format: tfAttr.s('NHWC'),
      dilations: tfAttr.ints([1, 1, 1, 1]),
      use_cudnn_on_gpu: tfAttr.b(true),
      explicit_paddings: { list: {} },
    });
    this.shapes.set(name, { ...this.spatial(x, k, stride, padding), c: cout });
    return name;
  }

  depthwise(name: string, x: string, filter: string, stride: number, padding: 'SAME' | 'VALID'): string {
    const [k, , cin, m] = this.specs.get(filter)!.shape;
    this.weight(filter);
    this.node(name, 'DepthwiseConv2dNative', [x, filter], {
      strides: tfAttr.ints([1, stride, stride, 1]),
      padding: tfAttr.s(padding),
      data_format: tfAttr.s('NHWC'),
      dilations: tfAttr.ints([1, 1, 1, 1]),
      explicit_paddings: { list: {} },
    });
    this.shapes.set(name, { ...this.spatial(x, k, stride, padding), c: cin * m });
    return name;
  }

  pool(name: string, op: 'MaxPool' | 'AvgPool', x: string, kernel: number, stride: number, padding: 'SAME' | 'VALID'): string {
    this.node(name, op, [x], {
      ksize: tfAttr.ints([1, kernel, kernel, 1]),
      strides: tfAttr.ints([1, stride, stride, 1]),
      padding: tfAttr.s(padding),
      data_format: tfAttr.s('NHWC'),
    });
    this.shapes.set(name, { ...this.spatial(x, kernel, stride, padding), c: this.shape(x).c });
    return name;
  }

  /** Elementwise binary op; the result takes the shape of `a` (face-api only broadcasts vectors onto maps). */
  binary(name: string, op: 'AddV2' | 'Sub' | 'Mul' | 'RealDiv', a: string, b: string): string {
    this.node(name, op, [a, b]);
    const s = this.shapes.get(a) ?? this.shapes.get(b);
    if (s) this.shapes.set(name, s);
    return name;
  }

  relu(name: string, x: string): string {
    this.node(name, 'Relu', [x]);
    this.shapes.set(name, this.shape(x));
    return name;
  }

  /** Zero padding [[0,0],[top,bottom],[left,right],[0,channels]]. */
  pad(name: string, x: string, bottom: number, right: number, channels: number): string {
    const paddings = this.constant(`${name}/paddings`, [4, 2], [0, 0, 0, bottom, 0, right, 0, channels], 'int32');
    this.node(name, 'Pad', [x, paddings], { Tpaddings: tfAttr.type('DT_INT32') });
    const s = this.shape(x);
    this.shapes.set(name, { h: s.h + bottom, w: s.w + right, c: s.c + channels });
    return name;
  }

  mean(name: string, x: string): string {
    const axes = this.constant(`${name}/reduction_indices`, [2], [1, 2], 'int32');
    this.node(name, 'Mean', [x, axes], { keep_dims: tfAttr.b(false), Tidx: tfAttr.type('DT_INT32') });
    return name;
  }

  reshape(name: string, x: string, shape: number[]): string {
    const s = this.constant(`${name}/shape`, [shape.length], shape, 'int32');
    this.node(name, 'Reshape', [x, s], { Tshape: tfAttr.type('DT_INT32') });
    return name;
  }

  matmul(name: string, x: string, w: string): string {
    this.weight(w);
    this.node(name, 'MatMul', [x, w], { transpose_a: tfAttr.b(false), transpose_b: tfAttr.b(false) });
    return name;
  }

  softmax(name: string, x: string): string {
    return this.node(name, 'Softmax', [x]);
  }

  identity(name: string, x: string): string {
    this.node(name, 'Identity', [x]);
    const s = this.shapes.get(x);
    if (s) this.shapes.set(name, s);
    return name;
  }
}

/** `normalize(x, meanRgb).div(255)`. */
function normalizeInput(b: GraphDefBuilder, input: string): string {
  const mean = b.constant('normalize/mean_rgb', [3], [...FACEAPI_MEAN_RGB]);
  const scale = b.constant('normalize/255', [], [255]);
  return b.binary('normalize/div', 'RealDiv', b.binary('normalize/sub', 'Sub', input, mean), scale);
}

/** `tf.add(tf.conv2d(x, filters, stride, padding), bias)`, over the weights `${prefix}/filters` and `${prefix}/bias`. */
function biasedConv(b: GraphDefBuilder, x: string, prefix: string, stride: number, padding: 'SAME' | 'VALID'): string {
  const conv = b.conv2d(`${prefix}/Conv2D`, x, `${prefix}/filters`, stride, padding);
  return b.binary(`${prefix}/add_bias`, 'AddV2', conv, b.weight(`${prefix}/bias`));
}

/** face-api's depthwiseSeparableConv: `tf.separableConv2d(x, dw, pw, stride, 'same')` plus bias. */
function separableConv(b: GraphDefBuilder, x: string, prefix: string, stride: number): string {
  const dw = b.depthwise(`${prefix}/depthwise`, x, `${prefix}/depthwise_filter`, stride, 'SAME');
  const pw = b.conv2d(`${prefix}/pointwise`, dw, `${prefix}/pointwise_filter`, 1, 'VALID');
  return b.binary(`${prefix}/add_bias`, 'AddV2', pw, b.weight(`${prefix}/bias`));
}

/** face-api's fullyConnectedLayer: `tf.add(tf.matMul(x, weights), bias)`. */
function fullyConnected(b: GraphDefBuilder, x: string, prefix: string): string {
  return b.binary(`${prefix}/add_bias`, 'AddV2', b.matmul(`${prefix}/MatMul`, x, `${prefix}/weights`), b.weight(`${prefix}/bias`));
}

// ---- face recognition (faceRecognitionNet/*.ts) ----

function convLayer(b: GraphDefBuilder, x: string, prefix: string, stride: number, withRelu: boolean, padding: 'SAME' | 'VALID'): string {
  let out = biasedConv(b, x, `${prefix}/conv`, stride, padding);
  out = b.binary(`${prefix}/scale/mul`, 'Mul', out, b.weight(`${prefix}/scale/weights`));
  out = b.binary(`${prefix}/scale/add`, 'AddV2', out, b.weight(`${prefix}/scale/biases`));
  return withRelu ? b.relu(`${prefix}/relu`, out) : out;
}

function residual(b: GraphDefBuilder, x: string, prefix: string): string {
  let out = convLayer(b, x, `${prefix}/conv1`, 1, true, 'SAME');
  out = convLayer(b, out, `${prefix}/conv2`, 1, false, 'SAME');
  out = b.binary(`${prefix}/add`, 'AddV2', out, x);
  return b.relu(`${prefix}/out`, out);
}

function residualDown(b: GraphDefBuilder, x: string, prefix: string): string {
  let out = convLayer(b, x, `${prefix}/conv1`, 2, true, 'VALID');
  out = convLayer(b, out, `${prefix}/conv2`, 1, false, 'SAME');
  let pooled = b.pool(`${prefix}/avg_pool`, 'AvgPool', x, 2, 2, 'VALID');
  const ps = b.shape(pooled);
  const os = b.shape(out);
  // face-api concatenates a zero row and column to `out` when the pooled map is one larger, and zero channels
  // to the pooled map when the block widens.
  if (ps.h !== os.h || ps.w !== os.w) out = b.pad(`${prefix}/pad_out`, out, ps.h - os.h, ps.w - os.w, 0);
  if (ps.c !== os.c) pooled = b.pad(`${prefix}/pad_pooled`, pooled, 0, 0, os.c - ps.c);
  out = b.binary(`${prefix}/add`, 'AddV2', pooled, out);
  return b.relu(`${prefix}/out`, out);
}

function faceRecognitionGraph(b: GraphDefBuilder): { outputs: Record<string, string> } {
  const input = b.placeholder('input', 150, 3);
  let out = normalizeInput(b, input);
  out = convLayer(b, out, 'conv32_down', 2, true, 'VALID');
  out = b.pool('conv32_down/max_pool', 'MaxPool', out, 3, 2, 'VALID');
  for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) out = residual(b, out, p);
  out = residualDown(b, out, 'conv64_down');
  for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) out = residual(b, out, p);
  out = residualDown(b, out, 'conv128_down');
  for (const p of ['conv128_1', 'conv128_2']) out = residual(b, out, p);
  out = residualDown(b, out, 'conv256_down');
  for (const p of ['conv256_1', 'conv256_2']) out = residual(b, out, p);
  out = residualDown(b, out, 'conv256_down_out');
  const pooled = b.mean('global_avg', out);
  const descriptor = b.identity('descriptor', b.matmul('fc/MatMul', pooled, 'fc'));
  return { outputs: { map: out, pooled, descriptor } };
}

// ---- FaceFeatureExtractor + FC head (faceFeatureExtractor/*.ts, faceProcessor/*.ts) ----

function denseBlock4(b: GraphDefBuilder, x: string, prefix: string, isFirst: boolean): string {
  const conv0 = isFirst ? biasedConv(b, x, `${prefix}/conv0`, 2, 'SAME') : separableConv(b, x, `${prefix}/conv0`, 2);
  const out1 = b.relu(`${prefix}/out1`, conv0);
  const out2 = separableConv(b, out1, `${prefix}/conv1`, 1);
  const in3 = b.relu(`${prefix}/in3`, b.binary(`${prefix}/sum3`, 'AddV2', out1, out2));
  const out3 = separableConv(b, in3, `${prefix}/conv2`, 1);
  const in4 = b.relu(`${prefix}/in4`, b.binary(`${prefix}/sum4`, 'AddV2', out1, b.binary(`${prefix}/sum4a`, 'AddV2', out2, out3)));
  const out4 = separableConv(b, in4, `${prefix}/conv3`, 1);
  const sum = b.binary(`${prefix}/sum5`, 'AddV2', out1, b.binary(`${prefix}/sum5a`, 'AddV2', out2, b.binary(`${prefix}/sum5b`, 'AddV2', out3, out4)));
  return b.relu(`${prefix}/out`, sum);
}

function featureExtractorGraph(b: GraphDefBuilder, softmax: boolean): { outputs: Record<string, string> } {
  const input = b.placeholder('input', 112, 3);
  let out = normalizeInput(b, input);
  out = denseBlock4(b, out, 'dense0', true);
  out = denseBlock4(b, out, 'dense1', false);
  out = denseBlock4(b, out, 'dense2', false);
  const map = denseBlock4(b, out, 'dense3', false);
  const pooled4 = b.pool('avg_pool', 'AvgPool', map, 7, 2, 'VALID');
  const pooled = b.reshape('features', pooled4, [-1, 256]);
  const logits = b.identity('logits', fullyConnected(b, pooled, 'fc'));
  const outputs: Record<string, string> = { map, pooled, logits };
  if (softmax) outputs.probabilities = b.softmax('probabilities', logits);
  return { outputs };
}

// ---- TinyXception + age and gender heads (xception/TinyXception.ts, ageGenderNet/AgeGenderNet.ts) ----

/** TinyXception(2), as AgeGenderNet builds it. */
const AGE_GENDER_MAIN_BLOCKS = 2;

function reductionBlock(b: GraphDefBuilder, x: string, prefix: string, activateInput: boolean): string {
  let out = activateInput ? b.relu(`${prefix}/relu_in`, x) : x;
  out = separableConv(b, out, `${prefix}/separable_conv0`, 1);
  out = separableConv(b, b.relu(`${prefix}/relu0`, out), `${prefix}/separable_conv1`, 1);
  out = b.pool(`${prefix}/max_pool`, 'MaxPool', out, 3, 2, 'SAME');
  // The shortcut takes the block's input before its ReLU.
  return b.binary(`${prefix}/add`, 'AddV2', out, biasedConv(b, x, `${prefix}/expansion_conv`, 2, 'SAME'));
}

function mainBlock(b: GraphDefBuilder, x: string, prefix: string): string {
  let out = x;
  for (let i = 0; i < 3; i++) out = separableConv(b, b.relu(`${prefix}/relu${i}`, out), `${prefix}/separable_conv${i}`, 1);
  return b.binary(`${prefix}/add`, 'AddV2', out, x);
}

/** Outputs `age` ([n, 1], years) and `gender` ([n, 2] softmax: male, female) besides `map` and `pooled`. */
function ageGenderGraph(b: GraphDefBuilder): { outputs: Record<string, string> } {
  const input = b.placeholder('input', 112, 3);
  let out = normalizeInput(b, input);
  out = b.relu('entry_flow/conv_in/relu', biasedConv(b, out, 'entry_flow/conv_in', 2, 'SAME'));
  out = reductionBlock(b, out, 'entry_flow/reduction_block_0', false);
  out = reductionBlock(b, out, 'entry_flow/reduction_block_1', true);
  for (let i = 0; i < AGE_GENDER_MAIN_BLOCKS; i++) out = mainBlock(b, out, `middle_flow/main_block_${i}`);
  out = reductionBlock(b, out, 'exit_flow/reduction_block', true);
  const map = b.relu('exit_flow/relu', separableConv(b, out, 'exit_flow/separable_conv', 1));
  const pooled = b.reshape('features', b.pool('avg_pool', 'AvgPool', map, 7, 2, 'VALID'), [-1, 512]);
  const age = fullyConnected(b, pooled, 'fc/age');
  const gender = b.softmax('gender/softmax', fullyConnected(b, pooled, 'fc/gender'));
  return { outputs: { map, pooled, age, gender } };
}

const GRAPHS: Record<FaceApiNet, (b: GraphDefBuilder) => { outputs: Record<string, string> }> = {
  face_recognition: faceRecognitionGraph,
  face_expression: (b) => featureExtractorGraph(b, true),
  face_landmark_68: (b) => featureExtractorGraph(b, false),
  age_gender: ageGenderGraph,
};

export interface FaceApiModel {
  artifacts: TfjsArtifacts;
  inputSize: number;
  /** Named nodes: `map` (the last spatial feature map), `pooled`, and the head's outputs. */
  nodes: Record<string, string>;
}

/** Reads a face-api network's manifest and shards from `dir` and describes it as a TF.js graph model. */
export async function readFaceApiModel(dir: string, net: FaceApiNet): Promise<FaceApiModel> {
  const { file, inputSize } = FACEAPI_NETS[net];
  const manifest = JSON.parse(await readFile(join(dir, `${file}-weights_manifest.json`), 'utf8')) as TfWeightsGroup[];
  const { specs, data } = await readWeightsManifest(manifest, dir, `${file}-weights_manifest.json`);
  const b = new GraphDefBuilder(new Map(specs.map((s) => [s.name, s])));
  const { outputs } = GRAPHS[net](b);
  const extra = b.extraData.reduce((n, d) => n + d.byteLength, 0);
  const weightData = new Uint8Array(data.byteLength + extra);
  weightData.set(data, 0);
  let offset = data.byteLength;
  for (const d of b.extraData) {
    weightData.set(d, offset);
    offset += d.byteLength;
  }
  const artifacts: TfjsArtifacts = {
    format: 'graph-model',
    modelTopology: { node: b.nodes, versions: { producer: 1 } },
    weightSpecs: [...specs, ...b.extraSpecs],
    weightData,
    signature: {
      inputs: { input: { name: 'input:0', dtype: 'DT_FLOAT' } },
      outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { name: v, dtype: 'DT_FLOAT' }])),
    },
    generatedBy: `face-llava tfjs-import (face-api ${net})`,
    convertedBy: null,
  };
  return { artifacts, inputSize, nodes: outputs };
}
