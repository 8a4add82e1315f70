// Vector-Jacobian product rules, one per differentiable op, written with forward ops so the backward pass is an
// ordinary graph. A rule gets a node and the cotangents of its outputs and returns, per input, a thunk that builds
// that input's cotangent; autodiff.ts calls only the thunks of inputs on a path from a `wrt` tensor.
// Cotangents of broadcast operands are summed back to the operand's shape (unbroadcast).
import { type AttrValue, type Node, type Shape, type Tensor, GraphBuildError, attr } from './graph.js';
import { hostTensor } from './host.js';
import * as ops from './ops.js';
import { isStatic, normAxis, unknownDim } from './shape.js';

export interface VjpArgs {
  readonly node: Node;
  /** The node's inputs; an omitted optional input reads as null (or undefined past the end). */
  readonly x: readonly Tensor[];
  /** The node's first output. */
  readonly y: Tensor;
  /** The cotangent of the first output (zeros when only another output reaches the loss). */
  readonly gy: Tensor;
  /** The cotangent of each output, null where the output does not reach the loss. */
  readonly gys: readonly (Tensor | null)[];
}

type Lazy = () => Tensor;
/** Per input: a thunk building its cotangent, or undefined where it gets none (indices, shapes, statistics). */
export type VjpRule = (a: VjpArgs) => readonly (Lazy | undefined)[];

// ---------------------------------------------------------------- helpers

const range = (from: number, to?: number): number[] => (to === undefined ? range(0, from) : Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i));

function once<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}

/** A tensor of `x`'s shape filled with `value` (expanded from a scalar at run time when x's shape is symbolic). */
export function filled(x: Tensor, value: number): Tensor {
  const s = ops.scalar(x.graph, value, x.dtype);
  return x.rank === 0 ? s : ops.expand(s, isStatic(x.shape) ? x.shape : x);
}

/** `t` broadcast to the shape of `x`. */
const expandLike = (t: Tensor, x: Tensor): Tensor => ops.expand(t, isStatic(x.shape) ? x.shape : x);

/** `t` reshaped to the shape of `x`. */
const reshapeLike = (t: Tensor, x: Tensor): Tensor => (isStatic(x.shape) ? ops.reshape(t, x.shape) : ops.reshapeTo(t, ops.shapeOf(x), x.shape));

/**
 * Sum a cotangent `g` of a broadcast result back to an operand's `shape`: over the leading axes the operand lacks
 * and over the axes where the operand has size 1 and `g` does not (a symbolic dim of `g` facing a 1 is summed —
 * harmless if it is 1 at run time). A symbolic operand dim facing any other dim is taken to be equal to it at run
 * time, the assumption shape.ts makes when it broadcasts.
 */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const lead = g.rank - shape.length;
  const axes = range(g.rank).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  if (axes.length === 0) return g;
  if (axes.length === lead) return ops.sum(g, axes);
  const s = ops.sum(g, axes, true);
  return lead > 0 ? ops.squeeze(s, range(lead)) : s;
}

/** The values of a constant int64 tensor (axes, bounds), or undefined when it is computed at run time. */
function constInts(t: Tensor | null | undefined): number[] | undefined {
  const v = t?.kind === 'const' ? t.graph.constants.get(t.name) : undefined;
  return v && Array.from(v.data as BigInt64Array, Number);
}

function needConstInts(node: Node, t: Tensor): number[] {
  const v = constInts(t);
  if (!v) throw new GraphBuildError(`grad: ${node.op} needs constant ${t.name} to be differentiated`);
  return v;
}

function attrInt(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a?.kind === 'int' ? a.value : fallback;
}

/** A float attribute as onnxruntime sees it: rounded to float32. */
function attrFloat(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return Math.fround(a?.kind === 'float' ? a.value : fallback);
}

function attrInts(node: Node, name: string): readonly number[] | undefined {
  const a = node.attrs[name];
  return a?.kind === 'ints' ? a.value : undefined;
}

/** Axes of a reduction (from its constant axes input; none means all). */
function reduceAxes(node: Node, x: Tensor): number[] {
  const axes = node.inputs[1] ? needConstInts(node, node.inputs[1]) : [];
  return axes.length ? axes.map((a) => normAxis(a, x.rank, node.op)).sort((a, b) => a - b) : range(x.rank);
}

/** A reduction's cotangent (or output) with its reduced axes kept as size 1. */
const keptDims = (node: Node, t: Tensor, axes: number[]): Tensor => (attrInt(node, 'keepdims', 1) ? t : ops.unsqueeze(t, axes));

/** The number of elements of `x` over `axes`, as a number when static, else as a float scalar computed at run time. */
function count(x: Tensor, axes: readonly number[]): Tensor | number {
  let n: Tensor | number = 1;
  for (const a of axes) {
    const d = x.shape[a];
    const k = typeof d === 'number' ? d : ops.cast(ops.gather(ops.shapeOf(x), ops.scalar(x.graph, a, 'int64')), x.dtype);
    n = typeof n === 'number' && typeof k === 'number' ? n * k : ops.mul(n, k);
  }
  return n;
}

/** Transpose of the last two axes. */
const mT = (t: Tensor): Tensor => ops.transpose(t, [...range(t.rank - 2), t.rank - 1, t.rank - 2]);

const inversePerm = (perm: readonly number[]): number[] => {
  const inv: number[] = [];
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
};

/** `t` transposed by `perm`, or `t` itself when `perm` is the identity. */
const permute = (t: Tensor, perm: readonly number[]): Tensor => (perm.every((p, i) => p === i) ? t : ops.transpose(t, perm));

/** An output spec with the dtype and shape of `t`. */
const like = (t: Tensor) => ({ dtype: t.dtype, shape: t.shape });

// Ops only backward graphs use (they have no rules of their own: no second derivatives through them).

const sign = (x: Tensor): Tensor => ops.custom('Sign', [x], {}, [like(x)])[0];

/** Rows of `x` up to `axis` flattened into one dimension, the rest into another (ONNX Flatten). */
function flatten(x: Tensor, axis: number): Tensor {
  const size = (dims: Shape) => dims.reduce<number | string>((n, d) => (typeof n === 'number' && typeof d === 'number' ? n * d : unknownDim()), 1);
  return ops.custom('Flatten', [x], { axis: attr.int(axis) }, [{ dtype: x.dtype, shape: [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))] }])[0];
}

/** Zero padding by `pads` ([begin…, end…], a constant list or an int64 tensor), the result's shape declared. */
const pad = (x: Tensor, pads: readonly number[] | Tensor, shape: Shape): Tensor =>
  ops.custom('Pad', [x, Array.isArray(pads) ? ops.int64s(x.graph, pads) : (pads as Tensor)], {}, [{ dtype: x.dtype, shape }])[0];

/** data[idx[…]] += updates[…], slices addressed by the last axis of `idx` (ScatterND, add reduction). */
const scatterNDAdd = (data: Tensor, idx: Tensor, updates: Tensor): Tensor =>
  ops.custom('ScatterND', [data, ops.cast(idx, 'int64'), updates], { reduction: attr.string('add') }, [like(data)])[0];

/**
 * The adjoint of a convolution with weights `w` [in, out/group, k…] (ConvTranspose) applied to `g`, producing
 * spatial sizes `size` — output padding and end pads cover what the forward windows left over or overhung.
 */
function convAdjoint(g: Tensor, w: Tensor, size: readonly number[], o: { strides: readonly number[]; pads: readonly number[]; dilations: readonly number[]; group: number }): Tensor {
  const n = size.length;
  const k = w.shape.slice(2) as number[];
  const outPad: number[] = [];
  const pads = [...o.pads];
  size.forEach((s, i) => {
    const full = ((g.shape[2 + i] as number) - 1) * o.strides[i] + o.dilations[i] * (k[i] - 1) + 1;
    outPad.push(Math.max(0, s + o.pads[i] + o.pads[i + n] - full));
    pads[i + n] = full + outPad[i] - o.pads[i] - s;
  });
  const attrs: Record<string, AttrValue> = {
    kernel_shape: attr.ints(k),
    strides: attr.ints(o.strides),
    pads: attr.ints(pads),
    dilations: attr.ints(o.dilations),
    group: attr.int(o.group),
    output_padding: attr.ints(outPad),
  };
  return ops.custom('ConvTranspose', [g, w], attrs, [{ dtype: g.dtype, shape: [g.shape[0], (w.shape[1] as number) * o.group, ...size] }])[0];
}

function staticSpatial(node: Node, x: Tensor, y: Tensor): number[] {
  const dims = [...x.shape.slice(2), ...y.shape.slice(2)];
  if (!isStatic(dims)) throw new GraphBuildError(`grad: ${node.op} needs static spatial sizes, got ${x} → ${y}`);
  return x.shape.slice(2) as number[];
}

function windowOptions(node: Node, spatial: number) {
  return {
    strides: attrInts(node, 'strides') ?? Array<number>(spatial).fill(1),
    pads: attrInts(node, 'pads') ?? Array<number>(2 * spatial).fill(0),
    dilations: attrInts(node, 'dilations') ?? Array<number>(spatial).fill(1),
    group: attrInt(node, 'group', 1),
  };
}

/** max/min route the cotangent to the operand selected by `mask` (a where it holds, else b). */
function route(mask: () => Tensor, gy: Tensor, a: Tensor, b: Tensor): Lazy[] {
  return [() => unbroadcast(ops.where(mask(), gy, 0), a.shape), () => unbroadcast(ops.where(mask(), 0, gy), b.shape)];
}

// ---------------------------------------------------------------- matmul, conv, slice, gather

// y = a·b over the last two axes, leading axes broadcast: da = dy·bᵀ, db = aᵀ·dy, each summed over the axes its
// operand was broadcast along. A 1-D a is a row [1, k] and a 1-D b a column [k, 1]; dy gets the axis each lacks.
// When b is a plain matrix and a is batched, db = aᵀ·dy is one matmul over the flattened rows of a and dy.
const matmulRule: VjpRule = ({ x: [a, b], gy }) => {
  const a2 = a.rank === 1 ? ops.unsqueeze(a, [0]) : a;
  const b2 = b.rank === 1 ? ops.unsqueeze(b, [1]) : b;
  let g = gy;
  if (a.rank === 1) g = ops.unsqueeze(g, [b.rank === 1 ? g.rank : g.rank - 1]);
  if (b.rank === 1) g = ops.unsqueeze(g, [g.rank]);
  return [
    () => {
      const da = unbroadcast(ops.matmul(g, mT(b2)), a2.shape);
      return a.rank === 1 ? ops.squeeze(da, [0]) : da;
    },
    () => {
      const db = b2.rank === 2 && a2.rank > 2 ? ops.matmul(mT(flatten(a2, a2.rank - 1)), flatten(g, g.rank - 1)) : unbroadcast(ops.matmul(mT(a2), g), b2.shape);
      return b.rank === 1 ? ops.squeeze(db, [1]) : db;
    },
  ];
};

// y = conv(x, w) + b. dx: the adjoint (transposed) convolution of dy with w. dw[o, c, k] = Σ dy[n, o, i]·x[n, c, i·s + k·d]:
// a convolution of x (batch and channels swapped) with dy as the kernel, stride and dilation exchanged; groups
// ride along as extra batch rows of x and extra channels of dy. db = Σ dy over batch and spatial axes.
const convRule: VjpRule = ({ node, x: [x, w], y, gy }) => {
  const size = staticSpatial(node, x, y);
  const n = size.length;
  const o = windowOptions(node, n);
  const spatial = range(2, 2 + n);
  return [
    () => convAdjoint(gy, w, size, o),
    () => {
      const G = o.group;
      const [outC, cg] = w.shape as number[];
      const xs = ops.reshape(ops.transpose(ops.reshape(x, [0, G, cg, ...size]), [2, 1, 0, ...range(3, 3 + n)]), [cg, -1, ...size]);
      const gs = ops.reshape(ops.transpose(ops.reshape(gy, [0, G, outC / G, ...(gy.shape.slice(2) as number[])]), [1, 2, 0, ...range(3, 3 + n)]), [outC, -1, ...(gy.shape.slice(2) as number[])]);
      const dw = ops.transpose(ops.conv(xs, gs, null, { strides: o.dilations, dilations: o.strides, pads: o.pads, group: G }), [1, 0, ...spatial]);
      const k = w.shape.slice(2) as number[];
      return dw.shape.slice(2).every((d, i) => d === k[i]) ? dw : ops.slice(dw, spatial, k.map(() => 0), k);
    },
    () => ops.sum(gy, [0, ...spatial]),
  ];
};

// Pooling windows are boxes: the divisor of an average is the product over axes of each window's extent, clipped
// to the input (count_include_pad 0) or to the padded input (1).
function avgPoolDivisor(node: Node, size: readonly number[], outSize: readonly number[], kernel: readonly number[], o: { strides: readonly number[]; pads: readonly number[] }): number[] {
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  let div = [1];
  size.forEach((s, i) => {
    const lo = includePad ? -o.pads[i] : 0;
    const hi = includePad ? s + o.pads[i + size.length] : s;
    const axis = range(outSize[i]).map((j) => {
      const start = j * o.strides[i] - o.pads[i];
      return Math.min(start + kernel[i], hi) - Math.max(start, lo);
    });
    div = div.flatMap((d) => axis.map((e) => d * e));
  });
  return div;
}

// y = x[s:e:k] along some axes: dx is dy put back in place among zeros — one Pad for unit steps; for a strided
// axis a Gather maps each position of x to its element of dy or to a zero slice padded onto dy's end.
function sliceGrad(node: Node, x: Tensor, gy: Tensor, bounds: { starts: Tensor; ends: Tensor; axes?: Tensor; steps?: Tensor }): Tensor {
  const r = x.rank;
  const axes = (bounds.axes ? needConstInts(node, bounds.axes) : range(bounds.starts.shape[0] as number)).map((a) => normAxis(a, r, 'Slice'));
  const steps = bounds.steps ? needConstInts(node, bounds.steps) : axes.map(() => 1);
  const starts = constInts(bounds.starts);
  const ends = constInts(bounds.ends);
  if (starts && ends && axes.every((a) => typeof x.shape[a] === 'number')) {
    const pads = Array<number>(2 * r).fill(0);
    const strided: [number, number[], number][] = [];
    axes.forEach((a, i) => {
      const d = x.shape[a] as number;
      const k = steps[i];
      const clamp = (v: number) => (k > 0 ? Math.min(Math.max(v < 0 ? v + d : v, 0), d) : Math.min(Math.max(v < 0 ? v + d : v, -1), d - 1));
      const s = clamp(starts[i]);
      const n = Math.max(0, Math.ceil((clamp(ends[i]) - s) / k));
      if (k === 1) {
        pads[a] = s;
        pads[a + r] = d - s - n;
      } else {
        const map = Array<number>(d).fill(n);
        for (let j = 0; j < n; j++) map[s + j * k] = j;
        strided.push([a, map, n]);
      }
    });
    let t = pads.some((p) => p !== 0) ? pad(gy, pads, x.shape.map((d, a) => (pads[a] || pads[a + r] ? d : gy.shape[a]))) : gy;
    for (const [a, map, n] of strided) {
      const one = Array<number>(2 * r).fill(0);
      one[a + r] = 1;
      const padded = pad(t, one, t.shape.map((d, i) => (i === a ? n + 1 : d)));
      t = ops.gather(padded, ops.int64s(x.graph, map), a);
    }
    return t;
  }
  if (steps.some((k) => k !== 1)) throw new GraphBuildError(`grad: a strided Slice needs constant bounds and static sliced dims (${x})`);
  // Bounds or sizes known only at run time: the same pads computed in int64 ops (ONNX's clamping included).
  const d = ops.gather(ops.shapeOf(x), ops.int64s(x.graph, axes));
  const clamp = (v: Tensor) => {
    const w = ops.cast(v, 'int64');
    return ops.min(ops.max(ops.where(ops.less(w, 0), ops.add(w, d), w), 0), d);
  };
  const begin = clamp(bounds.starts);
  const end = ops.max(clamp(bounds.ends), begin);
  const zeros = ops.int64s(x.graph, Array<number>(2 * r).fill(0));
  const pads = ops.scatterAdd(zeros, ops.int64s(x.graph, [...axes, ...axes.map((a) => a + r)]), ops.concat([begin, ops.sub(d, end)], 0), 0);
  return pad(gy, pads, x.shape);
}

// y = data gathered at idx along axis a: d data = dy scatter-added at idx (repeated indices accumulate). ScatterND
// adds whole slices, so the gathered axis goes first: dy's index axes are moved to the front for it.
const gatherRule: VjpRule = ({ node, x: [data, idx], gy }) => [
  () => {
    const a = normAxis(attrInt(node, 'axis', 0), data.rank, 'Gather');
    const q = idx.rank;
    const front = permute(gy, [...range(a, a + q), ...range(a), ...range(a + q, gy.rank)]);
    const perm = [a, ...range(a), ...range(a + 1, data.rank)];
    const s = scatterNDAdd(permute(filled(data, 0), perm), ops.unsqueeze(idx, [q]), front);
    return permute(s, inversePerm(perm));
  },
  undefined,
];

// ---------------------------------------------------------------- the rules

const rules: Record<string, VjpRule> = {
  // d(a + b) = da + db, each summed back over its broadcast axes
  Add: ({ x: [a, b], gy }) => [() => unbroadcast(gy, a.shape), () => unbroadcast(gy, b.shape)],
  // d(a − b) = da − db
  Sub: ({ x: [a, b], gy }) => [() => unbroadcast(gy, a.shape), () => ops.neg(unbroadcast(gy, b.shape))],
  // d(a·b) = b·da + a·db
  Mul: ({ x: [a, b], gy }) => [() => unbroadcast(ops.mul(gy, b), a.shape), () => unbroadcast(ops.mul(gy, a), b.shape)],
  // d(a/b) = da/b − (a/b)/b·db
  Div: ({ x: [a, b], y, gy }) => [() => unbroadcast(ops.div(gy, b), a.shape), () => ops.neg(unbroadcast(ops.div(ops.mul(gy, y), b), b.shape))],
  // d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·ln a·db (the db term taken as 0 where a = 0)
  Pow: ({ x: [a, b], y, gy }) => [
    () => unbroadcast(ops.mul(gy, ops.mul(b, ops.pow(a, ops.sub(b, 1)))), a.shape),
    () => unbroadcast(ops.mul(gy, ops.where(ops.equal(a, 0), 0, ops.mul(y, ops.log(a)))), b.shape),
  ],
  // max(a, b) passes dy to the larger operand, min to the smaller (to a on ties)
  Max: ({ x: [a, b], gy }) => route(once(() => ops.greaterOrEqual(a, b)), gy, a, b),
  Min: ({ x: [a, b], gy }) => route(once(() => ops.lessOrEqual(a, b)), gy, a, b),
  // d(−x) = −dx
  Neg: ({ gy }) => [() => ops.neg(gy)],
  // d eˣ = eˣ·dx
  Exp: ({ y, gy }) => [() => ops.mul(gy, y)],
  // d ln x = dx/x
  Log: ({ x: [x], gy }) => [() => ops.div(gy, x)],
  // d √x = dx/(2√x)
  Sqrt: ({ y, gy }) => [() => ops.div(gy, ops.mul(y, 2))],
  // d(1/x) = −dx/x² = −y²·dx
  Reciprocal: ({ y, gy }) => [() => ops.neg(ops.mul(gy, ops.mul(y, y)))],
  // d|x| = sign(x)·dx
  Abs: ({ x: [x], gy }) => [() => ops.mul(gy, sign(x))],
  // d erf x = 2/√π·e^(−x²)·dx
  Erf: ({ x: [x], gy }) => [() => ops.mul(gy, ops.mul(ops.exp(ops.neg(ops.mul(x, x))), 2 / Math.sqrt(Math.PI)))],
  // d tanh x = (1 − tanh²x)·dx
  Tanh: ({ y, gy }) => [() => ops.mul(gy, ops.sub(1, ops.mul(y, y)))],
  // d σ(x) = σ(x)·(1 − σ(x))·dx
  Sigmoid: ({ y, gy }) => [() => ops.mul(gy, ops.mul(y, ops.sub(1, y)))],
  // d relu x = [x > 0]·dx
  Relu: ({ y, gy }) => [() => ops.where(ops.greater(y, 0), gy, 0)],
  // d leakyRelu x = (x > 0 ? 1 : α)·dx
  LeakyRelu: ({ node, x: [x], gy }) => [() => ops.where(ops.greater(x, 0), gy, ops.mul(gy, attrFloat(node, 'alpha', 0.01)))],
  // d sin x = cos x·dx
  Sin: ({ x: [x], gy }) => [() => ops.mul(gy, ops.cos(x))],
  // d cos x = −sin x·dx
  Cos: ({ x: [x], gy }) => [() => ops.neg(ops.mul(gy, ops.sin(x)))],
  Identity: ({ gy }) => [() => gy],
  // clip passes dy where lo ≤ x ≤ hi; the bounds get none
  Clip: ({ x: [x, lo, hi], gy }) => [
    () => {
      const inLo = lo ? ops.greaterOrEqual(x, lo) : undefined;
      const inHi = hi ? ops.lessOrEqual(x, hi) : undefined;
      const mask = inLo && inHi ? ops.and(inLo, inHi) : (inLo ?? inHi);
      return mask ? ops.where(mask, gy, 0) : gy;
    },
  ],
  // where(c, a, b) routes dy to a where c holds, else to b; the condition gets none
  Where: ({ x: [c, a, b], gy }) => [undefined, () => unbroadcast(ops.where(c, gy, 0), a.shape), () => unbroadcast(ops.where(c, 0, gy), b.shape)],
  // a cast between float types casts the cotangent back (casts to or from other types carry no gradient)
  Cast: ({ x: [x], gy }) => [() => ops.cast(gy, x.dtype)],

  MatMul: matmulRule,
  // y = α·A'·B' + β·C, A' = A or Aᵀ (transA), B' likewise: dA' = α·dy·B'ᵀ, dB' = α·A'ᵀ·dy, dC = β·dy summed over
  // broadcast axes. A transposed operand's cotangent is the transpose, got by swapping Gemm's operands.
  Gemm: ({ node, x: [a, b, c], gy }) => {
    const [tA, tB] = [attrInt(node, 'transA', 0) === 1, attrInt(node, 'transB', 0) === 1];
    const [alpha, beta] = [attrFloat(node, 'alpha', 1), attrFloat(node, 'beta', 1)];
    return [
      () => (tA ? ops.gemm(b, gy, undefined, { transA: tB, transB: true, alpha }) : ops.gemm(gy, b, undefined, { transB: !tB, alpha })),
      () => (tB ? ops.gemm(gy, a, undefined, { transA: true, transB: tA, alpha }) : ops.gemm(a, gy, undefined, { transA: !tA, alpha })),
      () => unbroadcast(beta === 1 ? gy : ops.mul(gy, beta), c.shape),
    ];
  },

  // d Σ x = dy broadcast over the reduced axes
  ReduceSum: ({ node, x: [x], gy }) => [() => expandLike(keptDims(node, gy, reduceAxes(node, x)), x)],
  // d mean x = dy/n broadcast over the reduced axes (n elements reduced)
  ReduceMean: ({ node, x: [x], gy }) => [
    () => {
      const axes = reduceAxes(node, x);
      return expandLike(ops.div(keptDims(node, gy, axes), count(x, axes)), x);
    },
  ],
  // d max x = dy at the maxima, shared evenly among ties
  ReduceMax: ({ node, x: [x], y, gy }) => [
    () => {
      const axes = reduceAxes(node, x);
      const at = ops.cast(ops.equal(x, keptDims(node, y, axes)), x.dtype);
      return ops.mul(at, ops.div(keptDims(node, gy, axes), ops.sum(at, axes, true)));
    },
  ],
  // y = softmax x: dx = y·(dy − Σ dy·y) along the axis
  Softmax: ({ node, x: [x], y, gy }) => {
    const axis = normAxis(attrInt(node, 'axis', -1), x.rank, 'Softmax');
    return [() => ops.mul(y, ops.sub(gy, ops.sum(ops.mul(gy, y), [axis], true)))];
  },
  // y = log softmax x: dx = dy − eʸ·Σ dy along the axis
  LogSoftmax: ({ node, x: [x], y, gy }) => {
    const axis = normAxis(attrInt(node, 'axis', -1), x.rank, 'LogSoftmax');
    return [() => ops.sub(gy, ops.mul(ops.exp(y), ops.sum(gy, [axis], true)))];
  },
  // y = x̂·s + b, x̂ = (x − μ)·r, r = 1/√(σ² + ε), statistics over the normalized axes A:
  // dx = r·(dx̂ − mean_A dx̂ − x̂·mean_A(dx̂·x̂)) with dx̂ = dy·s; ds = Σ dy·x̂, db = Σ dy over the other axes.
  LayerNormalization: ({ node, x: [x, s, b], gy }) => {
    const axes = range(normAxis(attrInt(node, 'axis', -1), x.rank, 'LayerNormalization'), x.rank);
    const eps = attrFloat(node, 'epsilon', 1e-5);
    const stats = once(() => {
      const xc = ops.sub(x, ops.mean(x, axes, true));
      const r = ops.reciprocal(ops.sqrt(ops.add(ops.mean(ops.mul(xc, xc), axes, true), eps)));
      return { r, xhat: ops.mul(xc, r) };
    });
    return [
      () => {
        const { r, xhat } = stats();
        const gh = ops.mul(gy, s);
        return ops.mul(r, ops.sub(ops.sub(gh, ops.mean(gh, axes, true)), ops.mul(xhat, ops.mean(ops.mul(gh, xhat), axes, true))));
      },
      () => unbroadcast(ops.mul(gy, stats().xhat), s.shape),
      () => unbroadcast(gy, b.shape),
    ];
  },
  // y = (x − μ)·r·s + b per channel (axis 1), r = 1/√(var + ε), running statistics held constant:
  // dx = dy·s·r, ds = Σ dy·(x − μ)·r, db = Σ dy over all axes but the channels
  BatchNormalization: ({ node, x: [x, s, , mu, v], gy }) => {
    const perChannel = (t: Tensor) => (x.rank > 2 ? ops.unsqueeze(t, range(1, x.rank - 1)) : t);
    const r = once(() => ops.reciprocal(ops.sqrt(ops.add(v, attrFloat(node, 'epsilon', 1e-5)))));
    const others = [0, ...range(2, x.rank)];
    return [
      () => ops.mul(gy, perChannel(ops.mul(s, r()))),
      () => ops.mul(ops.sum(ops.mul(gy, ops.sub(x, perChannel(mu))), others), r()),
      () => ops.sum(gy, others),
    ];
  },
  // loss = Σᵢ mᵢ·(−log softmax(xᵢ)[lᵢ]) / Σ m, mᵢ = [lᵢ ≠ ignore_index]: dx = (softmax x − onehot l)·m·dy / max(Σ m, 1)
  // (the max keeps an all-ignored batch at zero gradient, not NaN). The one-hot is not built: −w is scatter-added
  // at the label positions of softmax(x)·w, with w = m·dy / max(Σ m, 1) per row.
  SoftmaxCrossEntropyLoss: ({ node, x: [logits, labels, weights], gy }) => {
    const reduction = node.attrs.reduction;
    if (weights || (reduction?.kind === 'string' && reduction.value !== 'mean')) {
      throw new GraphBuildError('grad: SoftmaxCrossEntropyLoss is differentiated with reduction mean and no class weights only');
    }
    return [
      () => {
        const ignore = node.attrs.ignore_index;
        const kept = ignore?.kind === 'int' ? ops.not(ops.equal(labels, ignore.value)) : ops.equal(labels, labels); // all rows without ignore_index
        const m = ops.cast(kept, logits.dtype);
        const w = ops.unsqueeze(ops.mul(m, ops.div(gy, ops.max(ops.sum(m, range(m.rank)), 1))), [1]);
        const at = ops.unsqueeze(ops.where(kept, labels, 0), [1]);
        return ops.scatterAdd(ops.mul(ops.softmax(logits, 1), w), at, ops.neg(w), 1);
      },
    ];
  },

  // Reshape relabels the elements: dx = dy reshaped back
  Reshape: ({ x: [x], gy }) => [() => reshapeLike(gy, x)],
  Squeeze: ({ node, x: [x, axes], gy }) => [() => (axes ? ops.unsqueeze(gy, needConstInts(node, axes)) : reshapeLike(gy, x))],
  Unsqueeze: ({ node, x: [, axes], gy }) => [() => ops.squeeze(gy, needConstInts(node, axes))],
  // dx = dy transposed by the inverse permutation
  Transpose: ({ node, x: [x], gy }) => [() => ops.transpose(gy, inversePerm(attrInts(node, 'perm') ?? range(x.rank).reverse()))],
  // each input's cotangent is its part of dy
  Concat: ({ node, x, gy }) => {
    const axis = normAxis(attrInt(node, 'axis', 0), gy.rank, 'Concat');
    const parts = once(() => {
      const sizes = x.map((t) => t.shape[axis]);
      if (isStatic(sizes)) return ops.split(gy, sizes, axis);
      const runtime = ops.concat(x.map((t) => ops.gather(ops.shapeOf(t), ops.int64s(t.graph, [axis]))), 0);
      return ops.custom('Split', [gy, runtime], { axis: attr.int(axis) }, x.map((t) => ({ dtype: gy.dtype, shape: t.shape })));
    });
    return x.map((_, i) => () => parts()[i]);
  },
  // dx = the outputs' cotangents concatenated, zeros for outputs off the path
  Split: ({ node, gys }) => [() => ops.concat(node.outputs.map((o, i) => gys[i] ?? filled(o, 0)), attrInt(node, 'axis', 0))],
  Slice: ({ node, x: [x, starts, ends, axes, steps], gy }) => [() => sliceGrad(node, x, gy, { starts, ends, axes, steps })],
  Gather: gatherRule,
  // y = data[…idx…] along the axis: d data = dy scatter-added at idx (repeated indices accumulate)
  GatherElements: ({ node, x: [data, idx], gy }) => [() => ops.scatterAdd(filled(data, 0), idx, gy, attrInt(node, 'axis', 0))],
  // data[idx] += u along the axis: d data = dy, du = dy gathered at idx
  ScatterElements: ({ node, x: [, idx], gy }) => {
    const reduction = node.attrs.reduction;
    if (reduction?.kind !== 'string' || reduction.value !== 'add') throw new GraphBuildError('grad: ScatterElements is differentiated with reduction add only');
    return [() => gy, undefined, () => ops.gatherElements(gy, idx, attrInt(node, 'axis', 0))];
  },
  // dx = dy summed over the broadcast axes
  Expand: ({ x: [x], gy }) => [() => unbroadcast(gy, x.shape)],
  // Trilu masks a fixed triangle: dx = dy masked the same way
  Trilu: ({ node, gy }) => [() => ops.custom('Trilu', [gy, ...node.inputs.slice(1)], node.attrs, [like(gy)])[0]],

  Conv: convRule,
  // dx = dy scatter-added at each window's argmax (MaxPool recomputed for its flat indices over the whole tensor)
  MaxPool: ({ node, x: [x], y, gy }) => [
    () => {
      const [, at] = ops.custom('MaxPool', [x], node.attrs, [like(y), { dtype: 'int64', shape: y.shape }]);
      const flat = ops.scatterAdd(ops.reshape(filled(x, 0), [-1]), ops.reshape(at, [-1]), ops.reshape(gy, [-1]), 0);
      return reshapeLike(flat, x);
    },
  ],
  // y = Σ_window x / n_window: dx = the adjoint of a depthwise all-ones convolution applied to dy / n_window
  AveragePool: ({ node, x: [x], y, gy }) => [
    () => {
      const size = staticSpatial(node, x, y);
      const c = x.shape[1];
      if (typeof c !== 'number') throw new GraphBuildError(`grad: AveragePool needs a static channel count, got ${x}`);
      const kernel = attrInts(node, 'kernel_shape')!;
      const o = { ...windowOptions(node, size.length), group: c };
      const outSize = y.shape.slice(2) as number[];
      const inv = hostTensor(x.dtype, outSize);
      (inv.data as Float64Array).set(avgPoolDivisor(node, size, outSize, kernel, o).map((d) => 1 / d));
      const scaled = ops.mul(gy, x.graph.constant(inv, 'pool_div'));
      return convAdjoint(scaled, ops.expand(ops.scalar(x.graph, 1, x.dtype), [c, 1, ...kernel]), size, o);
    },
  ],
  // dx = dy / (spatial size) broadcast over the spatial axes
  GlobalAveragePool: ({ x: [x], gy }) => [() => expandLike(ops.div(gy, count(x, range(2, x.rank))), x)],
};

/** The VJP rule of an op of the default ONNX domain, if it has one. */
export const VJP_RULES: ReadonlyMap<string, VjpRule> = new Map(Object.entries(rules));
