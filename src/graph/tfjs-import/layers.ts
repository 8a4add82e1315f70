// TF.js layers models (Keras config + weights): each layer is written out as the GraphDef nodes TF would run
// for it (Conv2D + BiasAdd + activation, FusedBatchNormV3, …), then the graph-model converter rebuilds them.
// The layer's last node carries the layer's name, so any layer can be asked for as an output.
import { hostTensor, type HostTensor } from '../host.js';
import { TfjsImportError, tfAttr, type TfAttr, type TfNodeDef } from './artifacts.js';

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown> & { name?: string };
  name?: string;
  inbound_nodes?: unknown[];
}

interface KerasModelConfig {
  class_name: string;
  config: { name?: string; layers: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[] } | KerasLayer[];
}

export interface LayersGraph {
  nodes: TfNodeDef[];
  weights: Map<string, HostTensor>;
  /** The model's output layers (node names). */
  outputs: string[];
}

const ACTIVATION_OPS: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  relu6: 'Relu6',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softmax: 'Softmax',
  elu: 'Elu',
  selu: 'Selu',
};

/** Layer classes this importer rebuilds. */
export const SUPPORTED_KERAS_LAYERS: readonly string[] = [
  'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense', 'BatchNormalization', 'Activation', 'ReLU',
  'LeakyReLU', 'PReLU', 'Softmax', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'Flatten', 'Reshape', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'Add', 'Subtract',
  'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'ZeroPadding2D',
];

function layerName(l: KerasLayer): string {
  const n = l.config.name ?? l.name;
  if (!n) throw new TfjsImportError(`a ${l.class_name} layer has no name`);
  return n;
}

function pair(v: unknown, what: string, layer: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  throw new TfjsImportError(`layer ${layer}: bad ${what} ${JSON.stringify(v)}`);
}

/** The inbound layer names of a functional layer's first call (Keras 2 JSON: [[[name, nodeIdx, tensorIdx, kwargs], …]]). */
function inboundOf(l: KerasLayer): string[] {
  const nodes = l.inbound_nodes ?? [];
  if (nodes.length === 0) return [];
  if (nodes.length > 1) throw new TfjsImportError(`layer ${layerName(l)} is called ${nodes.length} times; shared layers are not supported`);
  const first = nodes[0] as unknown;
  if (Array.isArray(first)) {
    return first.map((ref) => {
      if (!Array.isArray(ref)) throw new TfjsImportError(`layer ${layerName(l)}: unreadable inbound node ${JSON.stringify(ref)}`);
      if (Number(ref[2] ?? 0) !== 0) throw new TfjsImportError(`layer ${layerName(l)}: reads output ${ref[2]} of ${ref[0]}; multi-output layers are not supported`);
      return String(ref[0]);
    });
  }
  throw new TfjsImportError(`layer ${layerName(l)}: inbound nodes in an unsupported format (Keras 3?)`);
}

/** Converts a layers model's topology and decoded weights (keyed as in the manifest) to GraphDef nodes. */
export function layersToGraphDef(topology: Record<string, unknown>, manifestWeights: ReadonlyMap<string, HostTensor>): LayersGraph {
  const model = (topology.model_config ?? topology) as KerasModelConfig;
  const cfg = model.config;
  const layers = Array.isArray(cfg) ? cfg : cfg.layers;
  if (!Array.isArray(layers)) throw new TfjsImportError('layers model: no layers in the model config');
  const sequential = model.class_name === 'Sequential';
  const nodes: TfNodeDef[] = [];
  const weights = new Map<string, HostTensor>();
  const names = [...manifestWeights.keys()];

  const weight = (layer: string, param: string, optional = false): string | undefined => {
    const exact = `${layer}/${param}`;
    const key = manifestWeights.has(exact) ? exact : names.find((n) => n.endsWith(`/${exact}`) || n === exact);
    if (!key) {
      if (optional) return undefined;
      throw new TfjsImportError(`layer ${layer}: no weight ${param} in the manifest`);
    }
    const node = `${layer}/${param}`;
    if (!weights.has(node)) {
      weights.set(node, manifestWeights.get(key)!);
      nodes.push({ name: node, op: 'Const', input: [] });
    }
    return node;
  };
  const constant = (name: string, h: HostTensor): string => {
    weights.set(name, h);
    nodes.push({ name, op: 'Const', input: [] });
    return name;
  };
  const add = (name: string, op: string, input: string[], attr: Record<string, TfAttr> = {}): string => {
    nodes.push({ name, op, input, attr });
    return name;
  };
  const spatialAttrs = (strides: [number, number], padding: string, dilations: [number, number] = [1, 1]) => ({
    strides: tfAttr.ints([1, strides[0], strides[1], 1]),
    padding: tfAttr.s(padding.toUpperCase()),
    data_format: tfAttr.s('NHWC'),
    dilations: tfAttr.ints([1, dilations[0], dilations[1], 1]),
  });
  const activate = (name: string, x: string, activation: unknown): string => {
    const a = (activation as string | undefined) ?? 'linear';
    if (!(a in ACTIVATION_OPS)) throw new TfjsImportError(`layer ${name}: activation ${a} is not supported (supported: ${Object.keys(ACTIVATION_OPS).join(', ')})`);
    const op = ACTIVATION_OPS[a];
    return op ? add(`${name}/${op}`, op, [x]) : x;
  };

  let previous: string | undefined;
  const outputsOf = new Map<string, string>();
  for (const l of layers) {
    const name = layerName(l);
    const c = l.config;
    const channelsLast = (c.data_format ?? 'channels_last') === 'channels_last';
    if (!channelsLast) throw new TfjsImportError(`layer ${name}: data_format ${String(c.data_format)} is not supported`);
    if (sequential && !previous && l.class_name !== 'InputLayer') {
      // A Sequential model without an InputLayer declares its input on the first layer.
      const shape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
      if (!shape) throw new TfjsImportError(`layer ${name}: the first layer of a Sequential model needs batch_input_shape`);
      previous = add('input', 'Placeholder', [], { dtype: tfAttr.type('DT_FLOAT'), shape: tfAttr.shape(shape.map((d) => d ?? -1)) });
    }
    let inputs: string[];
    if (sequential) inputs = previous ? [previous] : [];
    else inputs = inboundOf(l).map((src) => {
      const out = outputsOf.get(src);
      if (!out) throw new TfjsImportError(`layer ${name} reads ${src}, which comes later or does not exist`);
      return out;
    });
    const x = inputs[0];
    let out: string;
    switch (l.class_name) {
      case 'InputLayer': {
        const shape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
        if (!shape) throw new TfjsImportError(`layer ${name}: no batch_input_shape`);
        nodes.push({ name, op: 'Placeholder', input: [], attr: { dtype: tfAttr.type('DT_FLOAT'), shape: tfAttr.shape(shape.map((d) => d ?? -1)) } });
        outputsOf.set(name, name);
        previous = name;
        continue;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        if (!x) throw new TfjsImportError(`layer ${name} has no input`);
        const strides = pair(c.strides ?? 1, 'strides', name);
        const dilations = pair(c.dilation_rate ?? 1, 'dilation_rate', name);
        const padding = String(c.padding ?? 'valid');
        let y: string;
        if (l.class_name === 'Conv2D') {
          y = add(`${name}/Conv2D`, 'Conv2D', [x, weight(name, 'kernel')!], spatialAttrs(strides, padding, dilations));
        } else {
          const dw = add(`${name}/depthwise`, 'DepthwiseConv2dNative', [x, weight(name, 'depthwise_kernel')!], spatialAttrs(strides, padding, dilations));
          y = l.class_name === 'DepthwiseConv2D' ? dw : add(`${name}/pointwise`, 'Conv2D', [dw, weight(name, 'pointwise_kernel')!], spatialAttrs([1, 1], 'valid'));
        }
        if (c.use_bias !== false) y = add(`${name}/BiasAdd`, 'BiasAdd', [y, weight(name, 'bias')!], { data_format: tfAttr.s('NHWC') });
        out = activate(name, y, c.activation);
        break;
      }
      case 'Dense': {
        let y = add(`${name}/MatMul`, 'MatMul', [x, weight(name, 'kernel')!], { transpose_a: tfAttr.b(false), transpose_b: tfAttr.b(false) });
        if (c.use_bias !== false) y = add(`${name}/BiasAdd`, 'BiasAdd', [y, weight(name, 'bias')!]);
        out = activate(name, y, c.activation);
        break;
      }
      case 'BatchNormalization': {
        const axis = Array.isArray(c.axis) ? Number(c.axis[0]) : Number(c.axis ?? -1);
        if (axis !== -1 && axis !== 3) throw new TfjsImportError(`layer ${name}: batch norm over axis ${axis} is not supported (only the channel axis)`);
        const mean = weight(name, 'moving_mean')!;
        const size = weights.get(mean)!.shape[0];
        const gamma = weight(name, 'gamma', true) ?? constant(`${name}/gamma_ones`, hostTensor('float32', [size], new Float32Array(size).fill(1)));
        const beta = weight(name, 'beta', true) ?? constant(`${name}/beta_zeros`, hostTensor('float32', [size], new Float32Array(size)));
        out = add(`${name}/FusedBatchNormV3`, 'FusedBatchNormV3', [x, gamma, beta, mean, weight(name, 'moving_variance')!], {
          epsilon: tfAttr.f(Number(c.epsilon ?? 1e-3)),
          data_format: tfAttr.s('NHWC'),
          is_training: tfAttr.b(false),
        });
        break;
      }
      case 'Activation':
        out = activate(name, x, c.activation);
        break;
      case 'Softmax':
        if (c.axis !== undefined && Number(c.axis) !== -1) throw new TfjsImportError(`layer ${name}: softmax over axis ${String(c.axis)} is not supported`);
        out = add(`${name}/Softmax`, 'Softmax', [x]);
        break;
      case 'ReLU': {
        const maxValue = c.max_value === null || c.max_value === undefined ? undefined : Number(c.max_value);
        if (Number(c.negative_slope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0 || (maxValue !== undefined && maxValue !== 6)) {
          throw new TfjsImportError(`layer ${name}: ReLU with a slope, threshold or max other than 6 is not supported`);
        }
        out = add(`${name}/${maxValue === 6 ? 'Relu6' : 'Relu'}`, maxValue === 6 ? 'Relu6' : 'Relu', [x]);
        break;
      }
      case 'LeakyReLU':
        out = add(`${name}/LeakyRelu`, 'LeakyRelu', [x], { alpha: tfAttr.f(Number(c.alpha ?? 0.3)) });
        break;
      case 'PReLU':
        out = add(`${name}/Prelu`, 'Prelu', [x, weight(name, 'alpha')!]);
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const pool = pair(c.pool_size ?? 2, 'pool_size', name);
        const strides = c.strides === null || c.strides === undefined ? pool : pair(c.strides, 'strides', name);
        out = add(`${name}/${l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool'}`, l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool', [x], {
          ksize: tfAttr.ints([1, pool[0], pool[1], 1]),
          ...spatialAttrs(strides, String(c.padding ?? 'valid')),
        });
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const axes = constant(`${name}/axes`, hostTensor('int32', [2], Int32Array.from([1, 2])));
        out = add(`${name}/reduce`, l.class_name === 'GlobalAveragePooling2D' ? 'Mean' : 'Max', [x, axes], { keep_dims: tfAttr.b(Boolean(c.keepdims)) });
        break;
      }
      case 'Flatten':
        out = add(`${name}/Flatten`, '_Flatten', [x]);
        break;
      case 'Reshape': {
        const target = (c.target_shape as number[]).map(Number);
        const shape = constant(`${name}/shape`, hostTensor('int32', [target.length + 1], Int32Array.from([-1, ...target])));
        out = add(`${name}/Reshape`, 'Reshape', [x, shape]);
        break;
      }
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
        out = x;
        break;
      case 'Add':
      case 'Subtract':
      case 'Multiply':
      case 'Maximum':
      case 'Minimum':
      case 'Average': {
        if (inputs.length < 2) throw new TfjsImportError(`layer ${name}: ${l.class_name} needs at least two inputs`);
        const op = { Add: 'AddV2', Subtract: 'Sub', Multiply: 'Mul', Maximum: 'Maximum', Minimum: 'Minimum', Average: 'AddV2' }[l.class_name]!;
        let acc = inputs[0];
        for (let i = 1; i < inputs.length; i++) acc = add(`${name}/${op}_${i}`, op, [acc, inputs[i]]);
        if (l.class_name === 'Average') acc = add(`${name}/mean`, 'Mul', [acc, constant(`${name}/inv_n`, hostTensor('float32', [], Float32Array.from([1 / inputs.length])))]);
        out = acc;
        break;
      }
      case 'Concatenate': {
        const axis = constant(`${name}/axis`, hostTensor('int32', [], Int32Array.from([Number(c.axis ?? -1)])));
        out = add(`${name}/concat`, 'ConcatV2', [...inputs, axis]);
        break;
      }
      case 'ZeroPadding2D': {
        const p = c.padding;
        let rows: [number, number][];
        if (typeof p === 'number') rows = [[p, p], [p, p]];
        else if (Array.isArray(p) && typeof p[0] === 'number') rows = [[Number(p[0]), Number(p[0])], [Number(p[1]), Number(p[1])]];
        else rows = (p as number[][]).map((r) => [Number(r[0]), Number(r[1])] as [number, number]);
        const pads = constant(`${name}/paddings`, hostTensor('int32', [4, 2], Int32Array.from([0, 0, ...rows[0], ...rows[1], 0, 0])));
        out = add(`${name}/Pad`, 'Pad', [x, pads]);
        break;
      }
      default:
        throw new TfjsImportError(`layer ${name}: Keras layer ${l.class_name} is not supported (supported: ${SUPPORTED_KERAS_LAYERS.join(', ')})`);
    }
    // The layer's own name names its output, so outputs can be asked for by layer name.
    out = out === name ? out : add(name, 'Identity', [out]);
    outputsOf.set(name, out);
    previous = out;
  }

  let outputs: string[];
  if (sequential || Array.isArray(cfg)) outputs = previous ? [previous] : [];
  else outputs = (cfg.output_layers ?? []).map((ref) => String((ref as unknown[])[0]));
  return { nodes, weights, outputs };
}
