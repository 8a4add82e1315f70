// GraphDef (TF semantics, NHWC) → our Graph (ONNX semantics, NCHW). Every TF value is tracked either as a host
// constant (weights, shapes, axes: folded at build time) or as a graph tensor; a rank-4 graph tensor is held in
// NCHW from the first convolution on (`nchw: true`) and transposed back to NHWC only where an op needs TF's
// layout (Reshape, Squeeze, an output). Weights are rewritten on the host: HWIO → OIHW, depthwise HW(C·M) →
// (C·M)1HW with group = C, fused batch norms folded into the convolution. TF's SAME padding is turned into
// explicit pads for the fixed input size, so shapes are static from the input on.
import { type Dim, Graph, type Tensor, attr } from '../graph.js';
import { hostTensor, i64, type HostTensor } from '../host.js';
import * as ops from '../ops.js';
import {
  TfjsImportError,
  attrBool,
  attrFloat,
  attrInts,
  attrShape,
  attrString,
  attrStrings,
  type TfNodeDef,
} from './artifacts.js';

export interface ConvertOptions {
  /** Spatial size [height, width] of rank-4 inputs, overriding the placeholder's (required where it is -1). */
  inputSize?: readonly [number, number];
  /** The batch dimension: a symbol bound at run time (default `batch`) or a fixed size. */
  batch?: Dim;
  /** TF node names (optionally `name:k`) to expose as graph outputs; default the signature's or the graph's sinks. */
  outputs?: readonly string[];
  /** Layout of rank-4 inputs: TF's `nhwc` (default) or `nchw`, which saves a transpose. */
  inputLayout?: 'nhwc' | 'nchw';
  /** Layout of rank-4 outputs: TF's `nhwc` (default, comparable with tfjs) or `nchw`. */
  outputLayout?: 'nhwc' | 'nchw';
  graphName?: string;
}

export interface ConvertedGraph {
  graph: Graph;
  /** Graph inputs by TF placeholder name: the graph input's name and shape (in `inputLayout`). */
  inputs: { tfName: string; name: string; shape: Dim[] }[];
  /** Graph output names (the requested TF names) with their shapes in TF (NHWC) order. */
  outputs: { name: string; tfShape: Dim[]; shape: Dim[] }[];
  /** TF ops converted (among the nodes the outputs need), with counts. */
  opCounts: Record<string, number>;
}

type Val = { kind: 'host'; value: HostTensor } | { kind: 'sym'; t: Tensor; nchw: boolean };

// ---- host tensor helpers ----

function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function hostTranspose(h: HostTensor, perm: readonly number[]): HostTensor {
  const shape = h.shape;
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const src = h.data as Float32Array | Int32Array;
  const dst = h.dtype === 'int32' ? new Int32Array(src.length) : new Float32Array(src.length);
  const strides = perm.map((p) => inStrides[p]);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < dst.length; o++) {
    let off = 0;
    for (let k = 0; k < rank; k++) off += idx[k] * strides[k];
    dst[o] = src[off];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < outShape[k]) break;
      idx[k] = 0;
    }
  }
  return hostTensor(h.dtype, outShape, dst);
}

function hostReshape(h: HostTensor, shape: readonly number[]): HostTensor {
  return hostTensor(h.dtype, shape, h.data);
}

function hostValues(h: HostTensor): number[] {
  return Array.from(h.data as Float32Array | Int32Array, Number);
}

/** Elementwise op on two host tensors with numpy broadcasting (constant folding). */
function hostBinary(a: HostTensor, b: HostTensor, fn: (x: number, y: number) => number): HostTensor {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array<number>(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array<number>(rank - b.shape.length).fill(1), ...b.shape];
  const out = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) throw new TfjsImportError(`cannot broadcast [${a.shape}] with [${b.shape}]`);
    return Math.max(d, pb[i]);
  });
  const n = numel(out);
  const dst = a.dtype === 'int32' && b.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  const xa = a.data as Float32Array;
  const xb = b.data as Float32Array;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      ia = ia * pa[k] + (pa[k] === 1 ? 0 : idx[k]);
      ib = ib * pb[k] + (pb[k] === 1 ? 0 : idx[k]);
    }
    dst[o] = fn(xa[ia], xb[ib]);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return hostTensor(dst instanceof Int32Array ? 'int32' : 'float32', out, dst);
}

function asFloat(h: HostTensor): HostTensor {
  return h.dtype === 'float32' ? h : hostTensor('float32', h.shape, Float32Array.from(h.data as Int32Array));
}

// ---- TF padding ----

function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

function staticDim(d: Dim, node: TfNodeDef, what: string): number {
  if (typeof d !== 'number') {
    throw new TfjsImportError(`node ${node.name} (${node.op}): ${what} must be known when the graph is built (got ${d}); pass inputSize`);
  }
  return d;
}

/** ONNX pads [hBegin, wBegin, hEnd, wEnd] for a TF op on an NCHW tensor. */
function convPads(node: TfNodeDef, x: Tensor, kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): number[] {
  const padding = attrString(node, 'padding');
  if (padding === 'VALID') return [0, 0, 0, 0];
  if (padding === 'EXPLICIT') {
    const e = attrInts(node, 'explicit_paddings'); // NHWC: [n0, n1, h0, h1, w0, w1, c0, c1]
    return [e[2], e[4], e[3], e[5]];
  }
  if (padding !== 'SAME') throw new TfjsImportError(`node ${node.name} (${node.op}): padding ${padding} is not supported`);
  const [hb, he] = samePads(staticDim(x.shape[2], node, 'the input height'), kernel[0], strides[0], dilations[0]);
  const [wb, we] = samePads(staticDim(x.shape[3], node, 'the input width'), kernel[1], strides[1], dilations[1]);
  return [hb, wb, he, we];
}

function nhwcPair(node: TfNodeDef, key: string, fallback: number[]): [number, number] {
  const v = attrInts(node, key, fallback);
  if (v.length === 4) {
    if (v[0] !== 1 || v[3] !== 1) throw new TfjsImportError(`node ${node.name} (${node.op}): ${key} ${JSON.stringify(v)} over batch or channels is not supported`);
    return [v[1], v[2]];
  }
  if (v.length === 2) return [v[0], v[1]];
  if (v.length === 1) return [v[0], v[0]];
  throw new TfjsImportError(`node ${node.name} (${node.op}): bad ${key} ${JSON.stringify(v)}`);
}

function checkNhwc(node: TfNodeDef): void {
  const format = attrString(node, 'data_format', 'NHWC');
  if (format !== 'NHWC') throw new TfjsImportError(`node ${node.name} (${node.op}): data_format ${format} is not supported (only NHWC)`);
}

// ---- the converter ----

type Handler = (c: Converter, node: TfNodeDef, inputs: Val[]) => Val | Val[];

const ACTIVATIONS = ['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Prelu'] as const;

class Converter {
  readonly values = new Map<string, Val>();
  private readonly nhwcCache = new Map<Tensor, Tensor>();
  private readonly nchwCache = new Map<Tensor, Tensor>();

  constructor(
    readonly g: Graph,
    readonly options: ConvertOptions,
  ) {}

  constant(h: HostTensor): Tensor {
    return this.g.constant(asFloat(h), 'w');
  }

  /** The value as a tensor in TF's own layout. */
  plain(v: Val): Tensor {
    if (v.kind === 'host') return this.constant(v.value);
    if (!v.nchw) return v.t;
    let t = this.nhwcCache.get(v.t);
    if (!t) this.nhwcCache.set(v.t, (t = ops.transpose(v.t, [0, 2, 3, 1])));
    return t;
  }

  /** A rank-4 value as an NCHW tensor. */
  nchw(v: Val, node: TfNodeDef): Tensor {
    if (v.kind === 'host') {
      if (v.value.shape.length !== 4) throw new TfjsImportError(`node ${node.name} (${node.op}): expected a rank-4 input, got [${v.value.shape}]`);
      return this.constant(hostTranspose(v.value, [0, 3, 1, 2]));
    }
    if (v.nchw) return v.t;
    if (v.t.rank !== 4) throw new TfjsImportError(`node ${node.name} (${node.op}): expected a rank-4 input, got ${v.t}`);
    let t = this.nchwCache.get(v.t);
    if (!t) this.nchwCache.set(v.t, (t = ops.transpose(v.t, [0, 3, 1, 2])));
    return t;
  }

  /** Operands of a broadcasting elementwise op, in a common layout (NCHW when any is held so). */
  align(node: TfNodeDef, vals: Val[]): { tensors: Tensor[]; nchw: boolean } {
    const nchw = vals.some((v) => v.kind === 'sym' && v.nchw);
    const tensors = vals.map((v): Tensor => {
      if (!nchw) return this.plain(v);
      if (v.kind === 'host') {
        const h = v.value;
        if (h.shape.length === 0 || numel(h.shape) === 1) return this.constant(hostReshape(h, []));
        if (h.shape.length > 4) throw new TfjsImportError(`node ${node.name} (${node.op}): cannot broadcast [${h.shape}] against a rank-4 tensor`);
        const padded = hostReshape(h, [...new Array<number>(4 - h.shape.length).fill(1), ...h.shape]);
        const t = hostTranspose(padded, [0, 3, 1, 2]);
        // Drop leading ones so a per-channel vector stays [C, 1, 1] (what onnxruntime's Conv+Add/Mul fusions want).
        let shape = [...t.shape];
        while (shape.length > 1 && shape[0] === 1) shape = shape.slice(1);
        return this.constant(hostReshape(t, shape));
      }
      if (v.nchw) return v.t;
      if (v.t.rank === 4) return this.nchw(v, node);
      if (v.t.rank === 0) return v.t;
      // A lower-rank tensor broadcasts against NHWC's trailing axes: lift it to rank 4, then to NCHW.
      const lifted = v.t.rank < 4 ? ops.reshape(v.t, [...new Array<number>(4 - v.t.rank).fill(1), ...(v.t.shape as number[])]) : v.t;
      return ops.transpose(lifted, [0, 3, 1, 2]);
    });
    return { tensors, nchw };
  }

  host(v: Val, node: TfNodeDef, what: string): HostTensor {
    if (v.kind !== 'host') throw new TfjsImportError(`node ${node.name} (${node.op}): ${what} must be a constant`);
    return v.value;
  }

  sym(t: Tensor, nchw: boolean): Val {
    return { kind: 'sym', t, nchw };
  }

  /** A fused or standalone activation on a value in its current layout. */
  activation(node: TfNodeDef, op: string, v: Val, alpha?: Val): Val {
    if (v.kind === 'host') throw new TfjsImportError(`node ${node.name} (${node.op}): activation of a constant is not supported`);
    const x = v.t;
    switch (op) {
      case 'Relu':
        return this.sym(ops.relu(x), v.nchw);
      case 'Relu6':
        return this.sym(ops.clip(x, 0, 6), v.nchw);
      case 'Sigmoid':
        return this.sym(ops.sigmoid(x), v.nchw);
      case 'Tanh':
        return this.sym(ops.tanh(x), v.nchw);
      case 'Elu':
        return this.sym(ops.custom('Elu', [x], { alpha: attr.float(1) }, [{ dtype: x.dtype, shape: x.shape }])[0], v.nchw);
      case 'Selu':
        return this.sym(ops.custom('Selu', [x], {}, [{ dtype: x.dtype, shape: x.shape }])[0], v.nchw);
      case 'LeakyRelu':
        return this.sym(ops.leakyRelu(x, attrFloat(node, node.op === 'LeakyRelu' ? 'alpha' : 'leakyrelu_alpha', 0.2)), v.nchw);
      case 'Prelu': {
        if (!alpha) throw new TfjsImportError(`node ${node.name} (${node.op}): Prelu without alpha`);
        const { tensors } = this.align(node, [v, alpha]);
        return this.sym(ops.custom('PRelu', [tensors[0], tensors[1]], {}, [{ dtype: x.dtype, shape: tensors[0].shape }])[0], v.nchw);
      }
      default:
        throw new TfjsImportError(`node ${node.name} (${node.op}): fused activation ${op} is not supported`);
    }
  }

  /** BiasAdd, FusedBatchNorm and an activation fused into a conv or matmul, in `fused_ops` order. */
  fusedTail(node: TfNodeDef, args: Val[], base: { w?: HostTensor; channelAxis: 0 | 1 }): { bias?: HostTensor; w?: HostTensor; rest: string[]; extra: Val[] } {
    const fused = attrStrings(node, 'fused_ops');
    let w = base.w;
    let bias: HostTensor | undefined;
    let k = 0;
    const rest: string[] = [];
    for (const f of fused) {
      if (f === 'BiasAdd') {
        bias = asFloat(this.host(args[k++], node, 'the fused bias'));
      } else if (f === 'FusedBatchNorm') {
        if (!w) throw new TfjsImportError(`node ${node.name} (${node.op}): fused batch norm needs constant weights`);
        const [scale, offset, mean, variance] = args.slice(k, k + 4).map((a) => hostValues(this.host(a, node, 'a batch-norm parameter')));
        k += 4;
        const eps = attrFloat(node, 'epsilon', 1e-3);
        const cout = scale.length;
        const a = scale.map((s, i) => s / Math.sqrt(variance[i] + eps));
        const folded = new Float32Array(w.data as Float32Array);
        const per = folded.length / cout;
        // channelAxis 0: OIHW (output channel outermost). 1: [in, out] matmul weight (output channel innermost).
        for (let i = 0; i < folded.length; i++) folded[i] *= a[base.channelAxis === 0 ? Math.floor(i / per) : i % cout];
        w = hostTensor('float32', w.shape, folded);
        const b0 = bias ? hostValues(bias) : new Array<number>(cout).fill(0);
        bias = hostTensor('float32', [cout], Float32Array.from(b0.map((b, i) => (b - mean[i]) * a[i] + offset[i])));
      } else {
        rest.push(f);
      }
    }
    return { bias, w, rest, extra: args.slice(k) };
  }

  applyActivations(node: TfNodeDef, v: Val, acts: string[], extra: Val[]): Val {
    let out = v;
    let k = 0;
    for (const a of acts) {
      if (!(ACTIVATIONS as readonly string[]).includes(a)) throw new TfjsImportError(`node ${node.name} (${node.op}): fused op ${a} is not supported`);
      out = this.activation(node, a, out, a === 'Prelu' ? extra[k++] : undefined);
    }
    return out;
  }
}

function convNode(depthwise: boolean): Handler {
  return (c, node, inputs) => {
    checkNhwc(node);
    const x = c.nchw(inputs[0], node);
    const filter = asFloat(c.host(inputs[1], node, 'the filter'));
    if (filter.shape.length !== 4) throw new TfjsImportError(`node ${node.name} (${node.op}): filter must be rank 4, got [${filter.shape}]`);
    const [kh, kw, ci, m] = filter.shape;
    const strides = nhwcPair(node, 'strides', [1, 1, 1, 1]);
    const dilations = nhwcPair(node, 'dilations', [1, 1, 1, 1]);
    let w: HostTensor;
    let group = 1;
    if (depthwise) {
      // [kh, kw, C, M] → [C, M, kh, kw] → [C·M, 1, kh, kw]: output channel c·M + m, as TF orders them.
      w = hostReshape(hostTranspose(filter, [2, 3, 0, 1]), [ci * m, 1, kh, kw]);
      group = ci;
    } else {
      w = hostTranspose(filter, [3, 2, 0, 1]); // HWIO → OIHW
      const cin = x.shape[1];
      if (typeof cin === 'number' && cin !== ci) {
        if (cin % ci !== 0) throw new TfjsImportError(`node ${node.name} (${node.op}): input has ${cin} channels, filter expects ${ci}`);
        group = cin / ci; // a grouped convolution
      }
    }
    const fused = node.op.startsWith('_Fused') || node.op.startsWith('Fused');
    let bias: HostTensor | undefined;
    let acts: string[] = [];
    let extra: Val[] = [];
    if (fused) {
      const tail = c.fusedTail(node, inputs.slice(2), { w, channelAxis: 0 });
      w = tail.w ?? w;
      bias = tail.bias;
      acts = tail.rest;
      extra = tail.extra;
    }
    const pads = convPads(node, x, [kh, kw], strides, dilations);
    const y = ops.conv(x, c.constant(w), bias ? c.constant(bias) : null, { strides, pads, dilations, group });
    return c.applyActivations(node, c.sym(y, true), acts, extra);
  };
}

function poolNode(kind: 'max' | 'avg'): Handler {
  return (c, node, inputs) => {
    checkNhwc(node);
    const x = c.nchw(inputs[0], node);
    const kernel = nhwcPair(node, 'ksize', undefined as unknown as number[]);
    const strides = nhwcPair(node, 'strides', [1, 1, 1, 1]);
    const pads = convPads(node, x, kernel, strides, [1, 1]);
    const y = (kind === 'max' ? ops.maxPool : ops.avgPool)(x, { kernel, strides, pads });
    return c.sym(y, true);
  };
}

function binaryNode(fn: (a: Tensor, b: Tensor) => Tensor, fold: (x: number, y: number) => number): Handler {
  return (c, node, inputs) => {
    const [a, b] = inputs;
    if (a.kind === 'host' && b.kind === 'host') return { kind: 'host', value: hostBinary(a.value, b.value, fold) };
    const { tensors, nchw } = c.align(node, [a, b]);
    return c.sym(fn(tensors[0], tensors[1]), nchw);
  };
}

function unaryNode(fn: (x: Tensor) => Tensor, fold?: (x: number) => number): Handler {
  return (c, node, inputs) => {
    const v = inputs[0];
    if (v.kind === 'host') {
      if (!fold) throw new TfjsImportError(`node ${node.name} (${node.op}): not supported on a constant`);
      const h = asFloat(v.value);
      return { kind: 'host', value: hostTensor('float32', h.shape, (h.data as Float32Array).map(fold)) };
    }
    return c.sym(fn(v.t), v.nchw);
  };
}

/** Axes of a TF reduction, normalized, and the op applied in whichever layout gives TF's result order. */
function reduceNode(fn: (x: Tensor, axes: readonly number[], keep: boolean) => Tensor): Handler {
  return (c, node, inputs) => {
    const v = inputs[0];
    if (v.kind === 'host') throw new TfjsImportError(`node ${node.name} (${node.op}): reduction of a constant is not supported`);
    const rank = v.t.rank;
    const axes = hostValues(c.host(inputs[1], node, 'the axes')).map((a) => (a < 0 ? a + rank : a));
    const keep = attrBool(node, 'keep_dims', attrBool(node, 'keepdims', false));
    if (v.nchw) {
      const toNchw = [0, 2, 3, 1]; // NHWC axis → its position in NCHW
      const mapped = axes.map((a) => toNchw[a]);
      const restNhwc = [0, 1, 2, 3].filter((a) => !axes.includes(a));
      const restNchw = [0, 3, 1, 2].filter((a) => !axes.includes(a)); // NCHW order, named by NHWC axis
      if (keep) return c.sym(fn(v.t, mapped, true), true);
      if (restNhwc.join() === restNchw.join()) return c.sym(fn(v.t, mapped, false), false);
    }
    return c.sym(fn(c.plain(v), axes, keep), false);
  };
}

function activationNode(op: string): Handler {
  return (c, node, inputs) => c.activation(node, op, inputs[0], inputs[1]);
}

const passthrough: Handler = (_c, _node, inputs) => inputs[0];

const HANDLERS: Record<string, Handler> = {
  Identity: passthrough,
  StopGradient: passthrough,
  Snapshot: passthrough,
  Conv2D: convNode(false),
  _FusedConv2D: convNode(false),
  DepthwiseConv2dNative: convNode(true),
  FusedDepthwiseConv2dNative: convNode(true),
  MaxPool: poolNode('max'),
  AvgPool: poolNode('avg'),
  Add: binaryNode(ops.add, (x, y) => x + y),
  AddV2: binaryNode(ops.add, (x, y) => x + y),
  Sub: binaryNode(ops.sub, (x, y) => x - y),
  Mul: binaryNode(ops.mul, (x, y) => x * y),
  RealDiv: binaryNode(ops.div, (x, y) => x / y),
  Div: binaryNode(ops.div, (x, y) => x / y),
  Maximum: binaryNode(ops.max, Math.max),
  Minimum: binaryNode(ops.min, Math.min),
  SquaredDifference: binaryNode((a, b) => {
    const d = ops.sub(a, b);
    return ops.mul(d, d);
  }, (x, y) => (x - y) * (x - y)),
  Relu: activationNode('Relu'),
  Relu6: activationNode('Relu6'),
  Elu: activationNode('Elu'),
  Selu: activationNode('Selu'),
  LeakyRelu: activationNode('LeakyRelu'),
  Sigmoid: activationNode('Sigmoid'),
  Tanh: activationNode('Tanh'),
  Prelu: activationNode('Prelu'),
  Neg: unaryNode(ops.neg, (x) => -x),
  Exp: unaryNode(ops.exp, Math.exp),
  Log: unaryNode(ops.log, Math.log),
  Sqrt: unaryNode(ops.sqrt, Math.sqrt),
  Rsqrt: unaryNode((x) => ops.reciprocal(ops.sqrt(x)), (x) => 1 / Math.sqrt(x)),
  Square: unaryNode((x) => ops.mul(x, x), (x) => x * x),
  Abs: unaryNode(ops.abs, Math.abs),
  Reciprocal: unaryNode(ops.reciprocal, (x) => 1 / x),
  Mean: reduceNode(ops.mean),
  Sum: reduceNode(ops.sum),
  Max: reduceNode(ops.reduceMax),
  BiasAdd: (c, node, inputs) => {
    checkNhwc(node);
    return HANDLERS.Add(c, node, inputs);
  },
  Softmax: (c, node, inputs) => {
    const v = inputs[0];
    if (v.kind === 'host') throw new TfjsImportError(`node ${node.name} (${node.op}): softmax of a constant`);
    return v.nchw ? c.sym(ops.softmax(v.t, 1), true) : c.sym(ops.softmax(v.t, -1), false);
  },
  FusedBatchNorm: batchNormNode,
  FusedBatchNormV2: batchNormNode,
  FusedBatchNormV3: batchNormNode,
  MatMul: matmulNode,
  _FusedMatMul: matmulNode,
  Reshape: (c, node, inputs) => {
    const shape = hostValues(c.host(inputs[1], node, 'the shape'));
    if (inputs[0].kind === 'host') return { kind: 'host', value: hostReshape(inputs[0].value, resolveShape(inputs[0].value.shape, shape, node)) };
    return c.sym(ops.reshape(c.plain(inputs[0]), shape), false);
  },
  Squeeze: (c, node, inputs) => {
    const x = c.plain(inputs[0]);
    let axes = attrInts(node, 'squeeze_dims', attrInts(node, 'axis', []));
    if (axes.length === 0) axes = x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    return c.sym(ops.squeeze(x, axes), false);
  },
  ExpandDims: (c, node, inputs) => {
    const x = c.plain(inputs[0]);
    const axis = hostValues(c.host(inputs[1], node, 'the axis'))[0];
    return c.sym(ops.unsqueeze(x, [axis < 0 ? axis + x.rank + 1 : axis]), false);
  },
  ConcatV2: (c, node, inputs) => {
    const axisVal = inputs[inputs.length - 1];
    const parts = inputs.slice(0, -1);
    const rank = parts.map((p) => (p.kind === 'host' ? p.value.shape.length : p.t.rank))[0];
    let axis = hostValues(c.host(axisVal, node, 'the axis'))[0];
    if (axis < 0) axis += rank;
    const anyNchw = parts.some((p) => p.kind === 'sym' && p.nchw);
    if (anyNchw && rank === 4) return c.sym(ops.concat(parts.map((p) => c.nchw(p, node)), [0, 2, 3, 1][axis]), true);
    return c.sym(ops.concat(parts.map((p) => c.plain(p)), axis), false);
  },
  Pad: padNode,
  PadV2: padNode,
  // Keras Flatten (written by layers.ts): all but the batch axis into one, in TF's order.
  _Flatten: (c, node, inputs) => {
    const x = c.plain(inputs[0]);
    const rest = x.shape.slice(1).map((d) => staticDim(d, node, 'a flattened dimension'));
    return c.sym(ops.reshape(x, [-1, rest.reduce((n, d) => n * d, 1)]), false);
  },
};

function resolveShape(from: readonly number[], target: number[], node: TfNodeDef): number[] {
  const total = numel(from);
  const known = target.filter((d) => d !== -1).reduce((n, d) => n * d, 1);
  const out = target.map((d) => (d === -1 ? total / known : d));
  if (numel(out) !== total) throw new TfjsImportError(`node ${node.name} (${node.op}): cannot reshape [${from}] to [${target}]`);
  return out;
}

function batchNormNode(c: Converter, node: TfNodeDef, inputs: Val[]): Val {
  if (attrBool(node, 'is_training', false)) throw new TfjsImportError(`node ${node.name} (${node.op}): training-mode batch norm is not supported`);
  checkNhwc(node);
  const [scale, offset, mean, variance] = inputs.slice(1, 5).map((v) => hostValues(c.host(v, node, 'a batch-norm parameter')));
  const eps = attrFloat(node, 'epsilon', 1e-3);
  const a = scale.map((s, i) => s / Math.sqrt(variance[i] + eps));
  const b = offset.map((o, i) => o - mean[i] * a[i]);
  const n = a.length;
  const { tensors, nchw } = c.align(node, [
    inputs[0],
    { kind: 'host', value: hostTensor('float32', [n], Float32Array.from(a)) },
    { kind: 'host', value: hostTensor('float32', [n], Float32Array.from(b)) },
  ]);
  return c.sym(ops.add(ops.mul(tensors[0], tensors[1]), tensors[2]), nchw);
}

function matmulNode(c: Converter, node: TfNodeDef, inputs: Val[]): Val {
  const ta = attrBool(node, 'transpose_a');
  const tb = attrBool(node, 'transpose_b');
  let a = inputs[0].kind === 'host' ? c.constant(inputs[0].value) : c.plain(inputs[0]);
  if (ta) a = ops.transpose(a, [1, 0]);
  let b: Tensor;
  let wHost: HostTensor | undefined;
  if (inputs[1].kind === 'host') {
    wHost = asFloat(tb ? hostTranspose(inputs[1].value, [1, 0]) : inputs[1].value);
  } else {
    b = c.plain(inputs[1]);
    if (tb) b = ops.transpose(b, [1, 0]);
  }
  let bias: HostTensor | undefined;
  let acts: string[] = [];
  let extra: Val[] = [];
  if (node.op === '_FusedMatMul') {
    const tail = c.fusedTail(node, inputs.slice(2), { w: wHost, channelAxis: 1 });
    wHost = tail.w ?? wHost;
    bias = tail.bias;
    acts = tail.rest;
    extra = tail.extra;
  }
  if (wHost) b = c.constant(wHost);
  let y = ops.matmul(a, b!);
  if (bias) y = ops.add(y, c.constant(bias));
  return c.applyActivations(node, c.sym(y, false), acts, extra);
}

function padNode(c: Converter, node: TfNodeDef, inputs: Val[]): Val {
  const v = inputs[0];
  if (v.kind === 'host') throw new TfjsImportError(`node ${node.name} (${node.op}): padding a constant is not supported`);
  const p = hostValues(c.host(inputs[1], node, 'the paddings'));
  const value = inputs[2] ? hostValues(c.host(inputs[2], node, 'the pad value'))[0] : 0;
  const rank = v.t.rank;
  const rows = Array.from({ length: rank }, (_, i) => [p[2 * i], p[2 * i + 1]] as [number, number]);
  const order = v.nchw ? [0, 3, 1, 2] : Array.from({ length: rank }, (_, i) => i);
  const stored = order.map((a) => rows[a]);
  const x = v.t;
  const shape = x.shape.map((d, i) => (typeof d === 'number' ? d + stored[i][0] + stored[i][1] : stored[i][0] + stored[i][1] === 0 ? d : `${d}+${stored[i][0] + stored[i][1]}`));
  const pads = c.g.constant(i64([2 * rank], [...stored.map((r) => r[0]), ...stored.map((r) => r[1])]), 'pads');
  // A zero pad is written as −0: onnxruntime (1.30) folds a Pad whose constant is all-zero bytes into a following
  // MaxPool/AveragePool's own pads, which changes the result (pool padding is ignored, a zero pad takes part).
  const cv = ops.scalar(c.g, value === 0 ? -0 : value, x.dtype);
  const y = ops.custom('Pad', [x, pads, cv], { mode: attr.string('constant') }, [{ dtype: x.dtype, shape }])[0];
  return c.sym(y, v.nchw);
}

/** TF ops this importer rebuilds (`_Flatten` is internal: layers.ts writes it for Keras Flatten). */
export const SUPPORTED_TF_OPS: readonly string[] = ['Placeholder', 'Const', ...Object.keys(HANDLERS).filter((op) => op !== '_Flatten')].sort();

function parseRef(ref: string): { node: string; index: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
  return { node: m[1], index: m[2] ? Number(m[2]) : 0 };
}

function valueKey(node: string, index: number): string {
  return index === 0 ? node : `${node}:${index}`;
}

/**
 * Rebuilds the GraphDef `nodes` (weights in `weights`, by Const node name) as a Graph computing the requested
 * outputs. Only the nodes those outputs need are converted; unsupported ops among them are all named in one error.
 */
export function convertGraphDef(
  nodes: readonly TfNodeDef[],
  weights: ReadonlyMap<string, HostTensor>,
  options: ConvertOptions & { defaultOutputs?: readonly string[] },
): ConvertedGraph {
  const byName = new Map<string, TfNodeDef>();
  for (const n of nodes) byName.set(n.name, n);
  let outputs = options.outputs ?? options.defaultOutputs;
  if (!outputs || outputs.length === 0) {
    const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((r) => parseRef(r.replace(/^\^/, '')).node)));
    outputs = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp').map((n) => n.name);
  }
  for (const o of outputs) {
    if (!byName.has(parseRef(o).node)) {
      const near = nodes.filter((n) => n.name.includes(parseRef(o).node.split('/').pop() ?? '')).slice(0, 5).map((n) => n.name);
      throw new TfjsImportError(`no node named ${parseRef(o).node} in the model${near.length ? ` (similar: ${near.join(', ')})` : ''}`);
    }
  }

  // The nodes the outputs need, in dependency order (iterative DFS; control inputs ignored).
  const order: TfNodeDef[] = [];
  const state = new Map<string, 1 | 2>();
  for (const o of outputs) {
    const stack: { name: string; expanded: boolean }[] = [{ name: parseRef(o).node, expanded: false }];
    while (stack.length) {
      const top = stack.pop()!;
      if (top.expanded) {
        state.set(top.name, 2);
        order.push(byName.get(top.name)!);
        continue;
      }
      if (state.get(top.name) === 2) continue;
      if (state.get(top.name) === 1) throw new TfjsImportError(`the graph has a cycle through ${top.name}`);
      state.set(top.name, 1);
      stack.push({ name: top.name, expanded: true });
      const node = byName.get(top.name);
      if (!node) throw new TfjsImportError(`node ${top.name} is referenced but not defined`);
      for (const ref of node.input ?? []) {
        if (ref.startsWith('^')) continue;
        const dep = parseRef(ref).node;
        if (!byName.has(dep)) throw new TfjsImportError(`node ${node.name} (${node.op}) reads ${dep}, which is not defined`);
        if (state.get(dep) !== 2) stack.push({ name: dep, expanded: false });
      }
    }
  }

  const unsupported = new Map<string, string[]>();
  for (const n of order) {
    if (n.op === 'Placeholder' || n.op === 'Const' || HANDLERS[n.op]) continue;
    const list = unsupported.get(n.op) ?? [];
    list.push(n.name);
    unsupported.set(n.op, list);
  }
  if (unsupported.size > 0) {
    const detail = [...unsupported].map(([op, names]) => `${op} (${names.length} node${names.length > 1 ? 's' : ''}, e.g. ${names[0]})`).join('; ');
    throw new TfjsImportError(`unsupported TF op${unsupported.size > 1 ? 's' : ''}: ${detail}. Supported: ${SUPPORTED_TF_OPS.join(', ')}`);
  }

  const g = new Graph(options.graphName ?? 'tfjs');
  const c = new Converter(g, options);
  const inputs: ConvertedGraph['inputs'] = [];
  const opCounts: Record<string, number> = {};
  for (const node of order) {
    opCounts[node.op] = (opCounts[node.op] ?? 0) + 1;
    if (node.op === 'Const') {
      const w = weights.get(node.name);
      if (!w) throw new TfjsImportError(`Const node ${node.name} has no value in the weights manifest`);
      c.values.set(node.name, { kind: 'host', value: w });
      continue;
    }
    if (node.op === 'Placeholder') {
      const declared = attrShape(node);
      if (!declared) throw new TfjsImportError(`input ${node.name}: unknown rank`);
      const dtype = node.attr?.dtype?.type ?? 'DT_FLOAT';
      if (dtype !== 'DT_FLOAT') throw new TfjsImportError(`input ${node.name}: dtype ${dtype} is not supported (only float32)`);
      const shape: Dim[] = declared.map((d, i) => (i === 0 ? (options.batch ?? 'batch') : d));
      if (declared.length === 4 && options.inputSize) [shape[1], shape[2]] = options.inputSize;
      shape.forEach((d, i) => {
        if (d === -1) throw new TfjsImportError(`input ${node.name}: dimension ${i} is unknown; pass inputSize`);
      });
      const nchw = declared.length === 4 && options.inputLayout === 'nchw';
      const graphShape = nchw ? [shape[0], shape[3], shape[1], shape[2]] : shape;
      const t = g.input(node.name.replace(/:0$/, ''), 'float32', graphShape);
      inputs.push({ tfName: node.name, name: t.name, shape: graphShape });
      c.values.set(node.name, { kind: 'sym', t, nchw });
      continue;
    }
    const ins = (node.input ?? []).filter((r) => !r.startsWith('^')).map((ref) => {
      const { node: src, index } = parseRef(ref);
      const v = c.values.get(valueKey(src, index));
      if (!v) throw new TfjsImportError(`node ${node.name} (${node.op}) reads output ${index} of ${src}, which this importer does not produce`);
      return v;
    });
    let result: Val | Val[];
    try {
      result = HANDLERS[node.op](c, node, ins);
    } catch (err) {
      if (err instanceof TfjsImportError) throw err;
      throw new TfjsImportError(`node ${node.name} (${node.op}): ${(err as Error).message}`);
    }
    const list = Array.isArray(result) ? result : [result];
    list.forEach((v, i) => c.values.set(valueKey(node.name, i), v));
  }

  const outs: ConvertedGraph['outputs'] = [];
  for (const o of outputs) {
    const { node, index } = parseRef(o);
    const v = c.values.get(valueKey(node, index));
    if (!v) throw new TfjsImportError(`output ${o} was not produced`);
    let t: Tensor;
    if (v.kind === 'sym' && v.t.rank === 4 && options.outputLayout === 'nchw') t = c.nchw(v, byName.get(node)!);
    else t = c.plain(v);
    const tfShape = v.kind === 'host' ? [...v.value.shape] : v.nchw ? [v.t.shape[0], v.t.shape[2], v.t.shape[3], v.t.shape[1]] : [...v.t.shape];
    g.output(o, t);
    outs.push({ name: o, tfShape, shape: [...t.shape] });
  }
  return { graph: g, inputs, outputs: outs, opCounts };
}
