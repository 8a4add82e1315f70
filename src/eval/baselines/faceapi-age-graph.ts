// face-api's AgeGenderNet (@vladmandic/face-api/model/age_gender_model) written out as a TF GraphDef, as
// src/graph/tfjs-import/faceapi.ts does for its other nets: face-api ships only weights, its architecture lives in
// its code (src/xception/TinyXception.ts, src/ageGenderNet/AgeGenderNet.ts), so the graph here is that code node
// for node — TinyXception with two middle blocks on a 112×112 input (normalized as face-api normalizes: minus its
// mean RGB, over 255), a 7×7 average pool to one 512-vector, and two FC heads: `age` (a linear regression, in
// years) and `gender` (softmax over male, female). The importer rebuilds it like any TF.js graph model, and TF.js
// can run the same artifacts as a reference.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FACEAPI_MEAN_RGB, type TfjsArtifacts } from '../../graph/tfjs-import.js';
import { readWeightsManifest, tfAttr, type TfNodeDef, type TfWeightSpec, type TfWeightsGroup } from '../../graph/tfjs-import/artifacts.js';

export const FACEAPI_AGE_FILE = 'age_gender_model';
export const FACEAPI_AGE_INPUT_SIZE = 112;
/** TinyXception(2), as AgeGenderNet builds it. */
const MAIN_BLOCKS = 2;

/** The graph's outputs: the age regression [n, 1] and the gender softmax [n, 2]. */
export const FACEAPI_AGE_OUTPUTS = { age: 'fc/age/add_bias', gender: 'gender/softmax' } as const;

class Builder {
  readonly nodes: TfNodeDef[] = [];
  readonly extraSpecs: TfWeightSpec[] = [];
  readonly extraData: Uint8Array[] = [];
  private readonly declared = new Set<string>();

  constructor(private readonly specs: ReadonlyMap<string, TfWeightSpec>) {}

  node(name: string, op: string, input: string[], attr: TfNodeDef['attr'] = {}): string {
    if (this.declared.has(name)) throw new Error(`face-api age graph: node ${name} declared twice`);
    this.declared.add(name);
    this.nodes.push({ name, op, input, attr: { T: tfAttr.type('DT_FLOAT'), ...attr } });
    return name;
  }

  /** A Const node for a weight of the manifest (declared once, however often used). */
  weight(name: string): string {
    if (this.declared.has(name)) return name;
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`face-api age graph: the manifest has no weight ${name}`);
    return this.constNode(name, spec.shape, 'DT_FLOAT');
  }

  /** A new constant, appended to the weights. */
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
      attr: { value: { tensor: { dtype, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } }, dtype: tfAttr.type(dtype) },
    });
    return name;
  }

  private window(stride: number, padding: 'SAME' | 'VALID'): TfNodeDef['attr'] {
    return { strides: tfAttr.ints([1, stride, stride, 1]), padding: tfAttr.s(padding), data_format: tfAttr.s('NHWC'), explicit_paddings: { list: {} } };
  }

  conv(name: string, x: string, filter: string, stride: number, padding: 'SAME' | 'VALID'): string {
    return this.node(name, 'Conv2D', [x, this.weight(filter)], { ...this.window(stride, padding), dilations: tfAttr.ints([1, 1, 1, 1]) });
  }

  depthwise(name: string, x: string, filter: string, stride: number): string {
    return this.node(name, 'DepthwiseConv2dNative', [x, this.weight(filter)], { ...this.window(stride, 'SAME'), dilations: tfAttr.ints([1, 1, 1, 1]) });
  }

  pool(name: string, op: 'MaxPool' | 'AvgPool', x: string, kernel: number, stride: number, padding: 'SAME' | 'VALID'): string {
    return this.node(name, op, [x], { ksize: tfAttr.ints([1, kernel, kernel, 1]), ...this.window(stride, padding) });
  }

  binary(name: string, op: 'AddV2' | 'Sub' | 'RealDiv', a: string, b: string): string {
    return this.node(name, op, [a, b]);
  }

  unary(name: string, op: 'Relu' | 'Softmax', x: string): string {
    return this.node(name, op, [x]);
  }
}

/** `tf.add(tf.conv2d(x, filters, stride, 'same'), bias)`. */
function conv(b: Builder, x: string, prefix: string, stride: number): string {
  return b.binary(`${prefix}/add_bias`, 'AddV2', b.conv(`${prefix}/conv`, x, `${prefix}/filters`, stride, 'SAME'), b.weight(`${prefix}/bias`));
}

/** face-api's depthwiseSeparableConv: `tf.separableConv2d(x, dw, pw, [1, 1], 'same')` plus bias. */
function separable(b: Builder, x: string, prefix: string): string {
  const dw = b.depthwise(`${prefix}/depthwise`, x, `${prefix}/depthwise_filter`, 1);
  const pw = b.conv(`${prefix}/pointwise`, dw, `${prefix}/pointwise_filter`, 1, 'VALID');
  return b.binary(`${prefix}/add_bias`, 'AddV2', pw, b.weight(`${prefix}/bias`));
}

function reductionBlock(b: Builder, x: string, prefix: string, activateInput: boolean): string {
  let out = activateInput ? b.unary(`${prefix}/relu_in`, 'Relu', x) : x;
  out = separable(b, out, `${prefix}/separable_conv0`);
  out = separable(b, b.unary(`${prefix}/relu0`, 'Relu', out), `${prefix}/separable_conv1`);
  out = b.pool(`${prefix}/max_pool`, 'MaxPool', out, 3, 2, 'SAME');
  // The shortcut takes the block's input before its ReLU.
  return b.binary(`${prefix}/add`, 'AddV2', out, conv(b, x, `${prefix}/expansion_conv`, 2));
}

function mainBlock(b: Builder, x: string, prefix: string): string {
  let out = separable(b, b.unary(`${prefix}/relu0`, 'Relu', x), `${prefix}/separable_conv0`);
  out = separable(b, b.unary(`${prefix}/relu1`, 'Relu', out), `${prefix}/separable_conv1`);
  out = separable(b, b.unary(`${prefix}/relu2`, 'Relu', out), `${prefix}/separable_conv2`);
  return b.binary(`${prefix}/add`, 'AddV2', out, x);
}

function fc(b: Builder, x: string, prefix: string): string {
  const mm = b.node(`${prefix}/matmul`, 'MatMul', [x, b.weight(`${prefix}/weights`)], { transpose_a: tfAttr.b(false), transpose_b: tfAttr.b(false) });
  return b.binary(`${prefix}/add_bias`, 'AddV2', mm, b.weight(`${prefix}/bias`));
}

/** Reads age_gender_model's manifest and shards from `dir` (face-api's model folder) as a TF.js graph model. */
export async function readFaceApiAgeModel(dir: string): Promise<TfjsArtifacts> {
  const manifestName = `${FACEAPI_AGE_FILE}-weights_manifest.json`;
  const manifest = JSON.parse(await readFile(join(dir, manifestName), 'utf8')) as TfWeightsGroup[];
  const { specs, data } = await readWeightsManifest(manifest, dir, manifestName);
  const b = new Builder(new Map(specs.map((s) => [s.name, s])));

  const size = FACEAPI_AGE_INPUT_SIZE;
  const input = b.node('input', 'Placeholder', [], { dtype: tfAttr.type('DT_FLOAT'), shape: tfAttr.shape([-1, size, size, 3]) });
  const centred = b.binary('normalize/sub', 'Sub', input, b.constant('normalize/mean_rgb', [3], [...FACEAPI_MEAN_RGB]));
  let out = b.binary('normalize/div', 'RealDiv', centred, b.constant('normalize/255', [], [255]));
  out = b.unary('entry_flow/conv_in/relu', 'Relu', conv(b, out, 'entry_flow/conv_in', 2));
  out = reductionBlock(b, out, 'entry_flow/reduction_block_0', false);
  out = reductionBlock(b, out, 'entry_flow/reduction_block_1', true);
  for (let i = 0; i < MAIN_BLOCKS; i++) out = mainBlock(b, out, `middle_flow/main_block_${i}`);
  out = reductionBlock(b, out, 'exit_flow/reduction_block', true);
  out = b.unary('exit_flow/relu', 'Relu', separable(b, out, 'exit_flow/separable_conv'));
  const pooled = b.pool('avg_pool', 'AvgPool', out, 7, 2, 'VALID');
  const flat = b.node('features', 'Reshape', [pooled, b.constant('features/shape', [2], [-1, 512], 'int32')], { Tshape: tfAttr.type('DT_INT32') });
  const age = fc(b, flat, 'fc/age');
  const gender = b.unary(FACEAPI_AGE_OUTPUTS.gender, 'Softmax', fc(b, flat, 'fc/gender'));
  if (age !== FACEAPI_AGE_OUTPUTS.age) throw new Error(`face-api age graph: the age head is ${age}`);

  const extra = b.extraData.reduce((n, d) => n + d.byteLength, 0);
  const weightData = new Uint8Array(data.byteLength + extra);
  weightData.set(data, 0);
  let offset = data.byteLength;
  for (const d of b.extraData) {
    weightData.set(d, offset);
    offset += d.byteLength;
  }
  return {
    format: 'graph-model',
    modelTopology: { node: b.nodes, versions: { producer: 1 } },
    weightSpecs: [...specs, ...b.extraSpecs],
    weightData,
    signature: {
      inputs: { input: { name: 'input:0', dtype: 'DT_FLOAT' } },
      outputs: { age: { name: FACEAPI_AGE_OUTPUTS.age, dtype: 'DT_FLOAT' }, gender: { name: gender, dtype: 'DT_FLOAT' } },
    },
    generatedBy: 'face-llava eval baselines (face-api age_gender)',
    convertedBy: null,
  };
}
