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

// ---- face recognition (faceRecognitionNet/*.ts) ----

function convLayer(b: GraphDefBuilder, x: string, prefix: string, stride: number, withRelu: boolean, padding: 'SAME' | 'VALID'): string {
  let out = b.conv2d(`${prefix}/conv/Conv2D`, x, `${prefix}/conv/filters`, stride, padding);
  out = b.binary(`${prefix}/conv/add_bias`, 'AddV2', out, b.weight(`${prefix}/conv/bias`));
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

function separableConv(b: GraphDefBuilder, x: string, prefix: string, stride: number): string {
  const dw = b.depthwise(`${prefix}/depthwise`, x, `${prefix}/depthwise_filter`, stride, 'SAME');
  const pw = b.conv2d(`${prefix}/pointwise`, dw, `${prefix}/pointwise_filter`, 1, 'VALID');
  return b.binary(`${prefix}/add_bias`, 'AddV2', pw, b.weight(`${prefix}/bias`));
}

function denseBlock4(b: GraphDefBuilder, x: string, prefix: string, isFirst: boolean): string {
  const conv0 = isFirst
    ? b.binary(`${prefix}/conv0/add_bias`, 'AddV2', b.conv2d(`${prefix}/conv0/Conv2D`, x, `${prefix}/conv0/filters`, 2, 'SAME'), b.weight(`${prefix}/conv0/bias`))
    : separableConv(b, x, `${prefix}/conv0`, 2);
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
  const fc = b.binary('fc/add_bias', 'AddV2', b.matmul('fc/MatMul', pooled, 'fc/weights'), b.weight('fc/bias'));
  const logits = b.identity('logits', fc);
  const outputs: Record<string, string> = { map, pooled, logits };
  if (softmax) outputs.probabilities = b.softmax('probabilities', logits);
  return { outputs };
}

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
  const { outputs } =
    net === 'face_recognition' ? faceRecognitionGraph(b) : featureExtractorGraph(b, net === 'face_expression');
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
