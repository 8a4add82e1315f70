// The op library: each function appends ONNX nodes to the graph of its inputs and infers the result's dtype and
// shape, so a mismatch is reported where the model is written, not when onnxruntime loads it.
// Semantics are those of the ONNX operators of the same name (opset 21, see onnx.ts).
import { type DType, ONNX_DTYPE, isFloat } from './dtype.js';
import { type Attrs, type Dim, type Graph, type Shape, type Tensor, GraphBuildError, attr, formatShape } from './graph.js';
import { hostTensor, i64 } from './host.js';
import {
  broadcastShapes,
  checkSameDim,
  normAxis,
  reshapeShape,
  staticSize,
  sumDims,
  unknownDim,
  windowOut,
} from './shape.js';

export type Operand = Tensor | number;

// ---------------------------------------------------------------- constants

const scalarCache = new WeakMap<Graph, Map<string, Tensor>>();

/** A scalar constant of `dtype`, shared within a graph. */
export function scalar(g: Graph, value: number, dtype: DType = 'float32'): Tensor {
  let cache = scalarCache.get(g);
  if (!cache) scalarCache.set(g, (cache = new Map()));
  const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let t = cache.get(key);
  if (!t) {
    const h = hostTensor(dtype, []);
    if (dtype === 'int64') (h.data as BigInt64Array)[0] = BigInt(value);
    else (h.data as Float32Array)[0] = value;
    t = g.constant(h, 'scalar');
    cache.set(key, t);
  }
  return t;
}

/** A 1-D int64 constant (shapes, axes, slice bounds). */
export function int64s(g: Graph, values: readonly number[]): Tensor {
  return g.constant(i64([values.length], values), 'ints');
}

function asTensor(g: Graph, x: Operand, dtype: DType): Tensor {
  return typeof x === 'number' ? scalar(g, x, dtype) : x;
}

function graphOf(...xs: Operand[]): Graph {
  for (const x of xs) if (typeof x !== 'number') return x.graph;
  throw new GraphBuildError('an op needs at least one tensor operand');
}

function sameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new GraphBuildError(`${op}: dtype mismatch ${a} vs ${b}`);
}

function one(op: string, inputs: (Tensor | null)[], dtype: DType, shape: Shape, attrs = {}, domain?: string): Tensor {
  const g = inputs.find((t): t is Tensor => t !== null)!.graph;
  return g.node(op, inputs, attrs, [{ dtype, shape }], { domain })[0];
}

// ---------------------------------------------------------------- elementwise

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Tensor {
  const g = graphOf(a, b);
  const dtype = typeof a !== 'number' ? a.dtype : (b as Tensor).dtype;
  const x = asTensor(g, a, dtype);
  const y = asTensor(g, b, dtype);
  sameDtype(op, x, y);
  return one(op, [x, y], outDtype ?? dtype, broadcastShapes(x.shape, y.shape, op));
}

export const add = (a: Operand, b: Operand) => binary('Add', a, b);
export const sub = (a: Operand, b: Operand) => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('Mul', a, b);
export const div = (a: Operand, b: Operand) => binary('Div', a, b);
export const pow = (a: Operand, b: Operand) => binary('Pow', a, b);
export const max = (a: Operand, b: Operand) => binary('Max', a, b);
export const min = (a: Operand, b: Operand) => binary('Min', a, b);
export const equal = (a: Operand, b: Operand) => binary('Equal', a, b, 'bool');
export const less = (a: Operand, b: Operand) => binary('Less', a, b, 'bool');
export const greater = (a: Operand, b: Operand) => binary('Greater', a, b, 'bool');
export const lessOrEqual = (a: Operand, b: Operand) => binary('LessOrEqual', a, b, 'bool');
export const greaterOrEqual = (a: Operand, b: Operand) => binary('GreaterOrEqual', a, b, 'bool');
export const and = (a: Tensor, b: Tensor) => binary('And', a, b, 'bool');
export const or = (a: Tensor, b: Tensor) => binary('Or', a, b, 'bool');

function unary(op: string, x: Tensor, attrs = {}): Tensor {
  return one(op, [x], x.dtype, x.shape, attrs);
}

export const neg = (x: Tensor) => unary('Neg', x);
export const exp = (x: Tensor) => unary('Exp', x);
export const log = (x: Tensor) => unary('Log', x);
export const sqrt = (x: Tensor) => unary('Sqrt', x);
export const reciprocal = (x: Tensor) => unary('Reciprocal', x);
export const abs = (x: Tensor) => unary('Abs', x);
export const erf = (x: Tensor) => unary('Erf', x);
export const tanh = (x: Tensor) => unary('Tanh', x);
export const sigmoid = (x: Tensor) => unary('Sigmoid', x);
export const relu = (x: Tensor) => unary('Relu', x);
export const sin = (x: Tensor) => unary('Sin', x);
export const cos = (x: Tensor) => unary('Cos', x);
export const identity = (x: Tensor) => unary('Identity', x);
export const not = (x: Tensor) => unary('Not', x);
export const leakyRelu = (x: Tensor, alpha = 0.01) => unary('LeakyRelu', x, { alpha: attr.float(alpha) });

export function clip(x: Tensor, lo?: number, hi?: number): Tensor {
  const g = x.graph;
  return one('Clip', [x, lo === undefined ? null : scalar(g, lo, x.dtype), hi === undefined ? null : scalar(g, hi, x.dtype)], x.dtype, x.shape);
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new GraphBuildError(`where: condition must be bool, got ${cond}`);
  const g = cond.graph;
  const dtype = typeof a !== 'number' ? a.dtype : typeof b !== 'number' ? b.dtype : 'float32';
  const x = asTensor(g, a, dtype);
  const y = asTensor(g, b, dtype);
  sameDtype('where', x, y);
  const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape, 'where'), y.shape, 'where');
  return one('Where', [cond, x, y], dtype, shape);
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return one('Cast', [x], to, x.shape, { to: attr.int(ONNX_DTYPE[to]) });
}

// ---------------------------------------------------------------- composite activations

/** GELU, exact form: 0.5·x·(1 + erf(x/√2)). onnxruntime fuses this pattern into one kernel. */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** GELU, tanh approximation (CLIP's quick_gelu is x·σ(1.702x), see quickGelu). */
export function geluTanh(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

export const quickGelu = (x: Tensor) => mul(x, sigmoid(mul(x, 1.702)));
/** SiLU (swish): x·σ(x), LLaMA's MLP activation. */
export const silu = (x: Tensor) => mul(x, sigmoid(x));

// ---------------------------------------------------------------- linear algebra

/** Numpy matmul: batched, broadcasting over leading dims. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameDtype('matmul', a, b);
  if (a.rank < 1 || b.rank < 1) throw new GraphBuildError(`matmul: scalars are not allowed (${a}, ${b})`);
  const as = a.rank === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.rank === 1 ? [b.shape[0], 1] : b.shape;
  checkSameDim(as[as.length - 1], bs[bs.length - 2], () => `matmul: inner dimensions differ: ${a} × ${b}`);
  const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2), 'matmul');
  const out: Dim[] = [...batch];
  if (a.rank > 1) out.push(as[as.length - 2]);
  if (b.rank > 1) out.push(bs[bs.length - 1]);
  return one('MatMul', [a, b], a.dtype, out);
}

/** x·Wᵀ + b with W of shape [out, in] (PyTorch's nn.Linear layout, as stored in checkpoints). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.rank !== 2) throw new GraphBuildError(`linear: weight must be 2-D, got ${weight}`);
  checkSameDim(x.dim(-1), weight.shape[1], () => `linear: input ${x} does not match weight ${weight}`);
  const y = matmul(x, transpose(weight, [1, 0]));
  return bias ? add(y, bias) : y;
}

export function gemm(a: Tensor, b: Tensor, c?: Tensor, options: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): Tensor {
  if (a.rank !== 2 || b.rank !== 2) throw new GraphBuildError(`gemm: operands must be 2-D (${a}, ${b})`);
  const [m, ka] = options.transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = options.transB ? [b.shape[1], b.shape[0]] : b.shape;
  checkSameDim(ka, kb, () => `gemm: inner dimensions differ: ${a} × ${b}`);
  const attrs = {
    transA: attr.int(options.transA ? 1 : 0),
    transB: attr.int(options.transB ? 1 : 0),
    alpha: attr.float(options.alpha ?? 1),
    beta: attr.float(options.beta ?? 1),
  };
  return one('Gemm', c ? [a, b, c] : [a, b], a.dtype, [m, n], attrs);
}

// ---------------------------------------------------------------- reductions and normalization

function reduce(op: string, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank, op));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) shape.push(d);
    else if (keepdims) shape.push(1);
  });
  return one(op, [x, int64s(x.graph, norm)], x.dtype, shape, { keepdims: attr.int(keepdims ? 1 : 0) });
}

export const sum = (x: Tensor, axes: readonly number[], keepdims = false) => reduce('ReduceSum', x, axes, keepdims);
export const mean = (x: Tensor, axes: readonly number[], keepdims = false) => reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes: readonly number[], keepdims = false) => reduce('ReduceMax', x, axes, keepdims);

export function softmax(x: Tensor, axis = -1): Tensor {
  return unary('Softmax', x, { axis: attr.int(normAxis(axis, x.rank, 'softmax')) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return unary('LogSoftmax', x, { axis: attr.int(normAxis(axis, x.rank, 'logSoftmax')) });
}

/** LayerNorm over the last axis (ONNX opset 17 LayerNormalization). */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | null, eps = 1e-5): Tensor {
  checkSameDim(x.dim(-1), scale.dim(-1), () => `layerNorm: scale ${scale} does not match ${x}`);
  return one('LayerNormalization', [x, scale, bias], x.dtype, x.shape, { axis: attr.int(-1), epsilon: attr.float(eps) });
}

/** RMSNorm (LLaMA): x / sqrt(mean(x²) + eps) · w, written with primitives so it differentiates. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  checkSameDim(x.dim(-1), weight.dim(-1), () => `rmsNorm: weight ${weight} does not match ${x}`);
  const ms = mean(mul(x, x), [-1], true);
  return mul(mul(x, reciprocal(sqrt(add(ms, eps)))), weight);
}

// ---------------------------------------------------------------- shape manipulation

export function reshape(x: Tensor, target: readonly number[]): Tensor {
  const shape = reshapeShape(x.shape, target);
  return one('Reshape', [x, int64s(x.graph, target)], x.dtype, shape);
}

/** Reshape to a shape computed at run time (an int64 tensor), with the result's shape declared. */
export function reshapeTo(x: Tensor, shapeTensor: Tensor, declared: Shape): Tensor {
  if (shapeTensor.dtype !== 'int64' || shapeTensor.rank !== 1) throw new GraphBuildError(`reshapeTo: shape must be a 1-D int64 tensor, got ${shapeTensor}`);
  const n = staticSize(x.shape);
  const m = staticSize(declared);
  if (n !== undefined && m !== undefined && n !== m) throw new GraphBuildError(`reshapeTo: ${x} cannot become ${formatShape(declared)}`);
  return one('Reshape', [x, shapeTensor], x.dtype, declared);
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new GraphBuildError(`transpose: ${formatShape(perm)} is not a permutation of the axes of ${x}`);
  }
  return one('Transpose', [x], x.dtype, perm.map((p) => x.shape[p]), { perm: attr.ints(perm) });
}

export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, 'unsqueeze'));
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[k++]);
  return one('Unsqueeze', [x, int64s(x.graph, norm)], x.dtype, shape);
}

export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank, 'squeeze'));
  for (const a of norm) {
    if (x.shape[a] !== 1 && typeof x.shape[a] === 'number') throw new GraphBuildError(`squeeze: axis ${a} of ${x} is not 1`);
  }
  return one('Squeeze', [x, int64s(x.graph, norm)], x.dtype, x.shape.filter((_, i) => !norm.includes(i)));
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new GraphBuildError('concat: no inputs');
  const first = xs[0];
  const a = normAxis(axis, first.rank, 'concat');
  for (const x of xs) {
    sameDtype('concat', first, x);
    if (x.rank !== first.rank) throw new GraphBuildError(`concat: ranks differ (${first}, ${x})`);
    x.shape.forEach((d, i) => {
      if (i !== a) checkSameDim(first.shape[i], d, () => `concat: ${first} and ${x} differ outside axis ${a}`);
    });
  }
  const shape = [...first.shape];
  shape[a] = sumDims(xs.map((x) => x.shape[a]));
  return one('Concat', [...xs], first.dtype, shape, { axis: attr.int(a) });
}

export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const a = normAxis(axis, x.rank, 'split');
  const d = x.shape[a];
  const total = sizes.reduce((s, n) => s + n, 0);
  if (typeof d === 'number' && d !== total) throw new GraphBuildError(`split: sizes ${formatShape(sizes)} do not add up to dim ${a} of ${x}`);
  const outputs = sizes.map((n) => {
    const shape = [...x.shape];
    shape[a] = n;
    return { dtype: x.dtype, shape };
  });
  return x.graph.node('Split', [x, int64s(x.graph, sizes)], { axis: attr.int(a) }, outputs);
}

/** Static slice along axes; bounds clamp as in ONNX (use Infinity for "to the end"). */
export function slice(x: Tensor, axes: readonly number[], starts: readonly number[], ends: readonly number[], steps?: readonly number[]): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank, 'slice'));
  const st = steps ?? norm.map(() => 1);
  const shape = [...x.shape];
  norm.forEach((a, i) => {
    const d = x.shape[a];
    if (typeof d !== 'number') {
      shape[a] = starts[i] === 0 && ends[i] === Infinity && st[i] === 1 ? d : unknownDim();
      return;
    }
    const clampIdx = (v: number, step: number) => {
      const w = v < 0 ? v + d : v;
      return step > 0 ? Math.min(Math.max(w, 0), d) : Math.min(Math.max(w, -1), d - 1);
    };
    const s = clampIdx(starts[i], st[i]);
    const e = clampIdx(ends[i], st[i]);
    shape[a] = Math.max(0, Math.ceil((e - s) / st[i]));
  });
  const big = (v: number) => (v === Infinity ? Number.MAX_SAFE_INTEGER : v === -Infinity ? -Number.MAX_SAFE_INTEGER : v);
  const g = x.graph;
  return one('Slice', [x, int64s(g, starts.map(big)), int64s(g, ends.map(big)), int64s(g, norm), int64s(g, st)], x.dtype, shape);
}

/** Slice with bounds known only at run time (1-D int64 tensors), the result's shape declared. */
export function sliceDynamic(x: Tensor, starts: Tensor, ends: Tensor, axes: readonly number[], declared: Shape): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank, 'sliceDynamic'));
  return one('Slice', [x, starts, ends, int64s(x.graph, norm)], x.dtype, declared);
}

export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new GraphBuildError(`gather: indices must be integers, got ${indices}`);
  const a = normAxis(axis, data.rank, 'gather');
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return one('Gather', [data, indices], data.dtype, shape, { axis: attr.int(a) });
}

export function gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
  if (indices.rank !== data.rank) throw new GraphBuildError(`gatherElements: ${indices} must have the rank of ${data}`);
  return one('GatherElements', [data, indices], data.dtype, indices.shape, { axis: attr.int(normAxis(axis, data.rank, 'gatherElements')) });
}

/** ScatterElements with `add` reduction: data[idx[i]] += updates[i] along `axis`. */
export function scatterAdd(data: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  sameDtype('scatterAdd', data, updates);
  return one('ScatterElements', [data, indices, updates], data.dtype, data.shape, {
    axis: attr.int(normAxis(axis, data.rank, 'scatterAdd')),
    reduction: attr.string('add'),
  });
}

/** Broadcast `x` to `shape` (fixed sizes) or to the run-time shape of tensor `like`. */
export function expand(x: Tensor, target: readonly number[] | Tensor): Tensor {
  if (Array.isArray(target)) {
    const t = target as readonly number[];
    return one('Expand', [x, int64s(x.graph, t)], x.dtype, broadcastShapes(x.shape, t, 'expand'));
  }
  const like = target as Tensor;
  return one('Expand', [x, shapeOf(like)], x.dtype, broadcastShapes(x.shape, like.shape, 'expand'));
}

export function shapeOf(x: Tensor): Tensor {
  return one('Shape', [x], 'int64', [x.rank]);
}

/** A 1-D range [start, limit) with step `delta`; bounds may be tensors known only at run time. */
export function range(g: Graph, start: Operand, limit: Operand, delta: Operand = 1, dtype: DType = 'int64'): Tensor {
  const s = asTensor(g, start, dtype);
  const l = asTensor(g, limit, dtype);
  const d = asTensor(g, delta, dtype);
  const n = typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number' ? Math.max(0, Math.ceil((limit - start) / delta)) : unknownDim();
  return one('Range', [s, l, d], dtype, [n]);
}

/** Lower (upper=false) or upper triangle of the last two axes, offset by k (ONNX Trilu). */
export function trilu(x: Tensor, upper: boolean, k = 0): Tensor {
  const inputs = k === 0 ? [x] : [x, scalar(x.graph, k, 'int64')];
  return one('Trilu', inputs, x.dtype, x.shape, { upper: attr.int(upper ? 1 : 0) });
}

// ---------------------------------------------------------------- convolution and pooling

export interface ConvOptions {
  strides?: readonly number[];
  pads?: readonly number[]; // [begin…, end…] as in ONNX
  dilations?: readonly number[];
  group?: number;
}

/** N-d convolution, NCHW, weights [out, in/group, k…] (depthwise: group = channels). */
export function conv(x: Tensor, w: Tensor, b: Tensor | null, options: ConvOptions = {}): Tensor {
  const spatial = x.rank - 2;
  if (w.rank !== x.rank) throw new GraphBuildError(`conv: weight ${w} must have the rank of input ${x}`);
  const group = options.group ?? 1;
  const strides = options.strides ?? Array(spatial).fill(1);
  const pads = options.pads ?? Array(spatial * 2).fill(0);
  const dil = options.dilations ?? Array(spatial).fill(1);
  const cin = x.shape[1];
  if (typeof cin === 'number' && typeof w.shape[1] === 'number' && cin !== (w.shape[1] as number) * group) {
    throw new GraphBuildError(`conv: input channels of ${x} do not match weight ${w} with group ${group}`);
  }
  const shape: Dim[] = [x.shape[0], w.shape[0]];
  for (let i = 0; i < spatial; i++) {
    shape.push(windowOut(x.shape[2 + i], w.shape[2 + i] as number, strides[i], pads[i], pads[i + spatial], dil[i]));
  }
  const attrs = {
    strides: attr.ints(strides),
    pads: attr.ints(pads),
    dilations: attr.ints(dil),
    group: attr.int(group),
    kernel_shape: attr.ints(w.shape.slice(2) as number[]),
  };
  return one('Conv', b ? [x, w, b] : [x, w], x.dtype, shape, attrs);
}

export interface PoolOptions {
  kernel: readonly number[];
  strides?: readonly number[];
  pads?: readonly number[];
  ceil?: boolean;
}

function pool(op: string, x: Tensor, o: PoolOptions): Tensor {
  const spatial = x.rank - 2;
  const strides = o.strides ?? o.kernel;
  const pads = o.pads ?? Array(spatial * 2).fill(0);
  const shape: Dim[] = [x.shape[0], x.shape[1]];
  for (let i = 0; i < spatial; i++) shape.push(windowOut(x.shape[2 + i], o.kernel[i], strides[i], pads[i], pads[i + spatial], 1, o.ceil));
  const attrs: Attrs = {
    kernel_shape: attr.ints(o.kernel),
    strides: attr.ints(strides),
    pads: attr.ints(pads),
    ceil_mode: attr.int(o.ceil ? 1 : 0),
  };
  if (op === 'AveragePool') attrs.count_include_pad = attr.int(0);
  return one(op, [x], x.dtype, shape, attrs);
}

export const maxPool = (x: Tensor, o: PoolOptions) => pool('MaxPool', x, o);
export const avgPool = (x: Tensor, o: PoolOptions) => pool('AveragePool', x, o);

export function globalAvgPool(x: Tensor): Tensor {
  return one('GlobalAveragePool', [x], x.dtype, [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)]);
}

/**
 * Bilinear resize of the last two axes of x [..., H, W] to [..., h, w] (ONNX Resize, half-pixel centres); with
 * `antialias` (opset 18) a downscale filters like an image library's rather than sampling. No gradient.
 */
export function resizeBilinear(x: Tensor, size: readonly [number, number], options: { antialias?: boolean } = {}): Tensor {
  const attrs: Attrs = {
    mode: attr.string('linear'),
    antialias: attr.int(options.antialias ? 1 : 0),
    axes: attr.ints([x.rank - 2, x.rank - 1]),
    coordinate_transformation_mode: attr.string('half_pixel'),
  };
  return one('Resize', [x, null, null, int64s(x.graph, size)], x.dtype, [...x.shape.slice(0, -2), ...size], attrs);
}

/** Batch normalization in inference mode (running statistics). */
export function batchNorm(x: Tensor, scale: Tensor, bias: Tensor, runMean: Tensor, runVar: Tensor, eps = 1e-5): Tensor {
  return one('BatchNormalization', [x, scale, bias, runMean, runVar], x.dtype, x.shape, { epsilon: attr.float(eps) });
}

// ---------------------------------------------------------------- losses

/**
 * Mean cross-entropy of `logits` [N, C] against integer `labels` [N], skipping positions whose label is
 * `ignoreIndex` (LLaVA's -100 for non-answer tokens). The mean is over counted positions (ONNX
 * SoftmaxCrossEntropyLoss with reduction `mean`).
 */
export function crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1) throw new GraphBuildError(`crossEntropy: want logits [N, C] and labels [N], got ${logits}, ${labels}`);
  if (labels.dtype !== 'int64') throw new GraphBuildError(`crossEntropy: labels must be int64, got ${labels}`);
  if (!isFloat(logits.dtype)) throw new GraphBuildError(`crossEntropy: logits must be floating point, got ${logits}`);
  checkSameDim(logits.shape[0], labels.shape[0], () => `crossEntropy: ${logits} and ${labels} differ in N`);
  return one('SoftmaxCrossEntropyLoss', [logits, labels], logits.dtype, [], {
    ignore_index: attr.int(ignoreIndex),
    reduction: attr.string('mean'),
  });
}

/** Any other ONNX or contrib op, with its outputs declared by the caller. */
export function custom(op: string, inputs: readonly (Tensor | null)[], attrs: Attrs, outputs: readonly { dtype: DType; shape: Shape }[], domain = ''): Tensor[] {
  const g = inputs.find((t): t is Tensor => t !== null)?.graph;
  if (!g) throw new GraphBuildError(`${op}: needs at least one input`);
  return g.node(op, inputs, attrs, outputs, { domain });
}
