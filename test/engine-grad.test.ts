// Autodiff, checked against central differences in float64 (onnxruntime's CPU provider has float64 kernels for
// these ops): elementwise ops, linear algebra, reductions, normalization, composites, a small MLP, fan-out and
// broadcasting over symbolic dims. Shape ops are in engine-grad-shape, float32-only ops in engine-grad-nn.
import { hostTensor, i64, ops } from '../src/graph/index.js';
import { type GradCase, describeGradcheck, random } from './helpers/gradcheck.js';

let seed = 1;
const f64 = (shape: number[], lo = -1, hi = 1) => random('float64', shape, seed++, lo, hi);
const positive = (shape: number[]) => f64(shape, 0.5, 2);
const float64 = { eps: 1e-6, tolerance: 1e-6 };

const elementwise: GradCase[] = [
  { name: 'Add [2,3] + [3]', inputs: [f64([2, 3]), f64([3])], build: (_, a, b) => ops.add(a, b) },
  { name: 'Add [2,1,3] + [4,1]', inputs: [f64([2, 1, 3]), f64([4, 1])], build: (_, a, b) => ops.add(a, b) },
  { name: 'Sub [2,3] − [2,1]', inputs: [f64([2, 3]), f64([2, 1])], build: (_, a, b) => ops.sub(a, b) },
  { name: 'Mul [2,3] · [1,3]', inputs: [f64([2, 3]), f64([1, 3])], build: (_, a, b) => ops.mul(a, b) },
  { name: 'Div [2,3] / [3]', inputs: [f64([2, 3]), positive([3])], build: (_, a, b) => ops.div(a, b) },
  { name: 'Pow x³', inputs: [f64([2, 3])], build: (_, x) => ops.pow(x, 3) },
  { name: 'Pow x^2.5', inputs: [positive([2, 3])], build: (_, x) => ops.pow(x, 2.5) },
  { name: 'Pow a^b (tensor exponent)', inputs: [positive([2, 3]), f64([3])], build: (_, a, b) => ops.pow(a, b) },
  { name: 'Max', inputs: [f64([2, 3]), f64([3])], build: (_, a, b) => ops.max(a, b) },
  { name: 'Min', inputs: [f64([2, 3]), f64([2, 1])], build: (_, a, b) => ops.min(a, b) },
  { name: 'Neg', inputs: [f64([2, 3])], build: (_, x) => ops.neg(x) },
  { name: 'Exp', inputs: [f64([2, 3])], build: (_, x) => ops.exp(x) },
  { name: 'Log', inputs: [positive([2, 3])], build: (_, x) => ops.log(x) },
  { name: 'Sqrt', inputs: [positive([2, 3])], build: (_, x) => ops.sqrt(x) },
  { name: 'Reciprocal', inputs: [positive([2, 3])], build: (_, x) => ops.reciprocal(x) },
  { name: 'Abs', inputs: [f64([2, 3])], build: (_, x) => ops.abs(x) },
  { name: 'Tanh', inputs: [f64([2, 3])], build: (_, x) => ops.tanh(x) },
  { name: 'Sigmoid', inputs: [f64([2, 3])], build: (_, x) => ops.sigmoid(x) },
  { name: 'Relu', inputs: [f64([2, 3])], build: (_, x) => ops.relu(x) },
  { name: 'Sin', inputs: [f64([2, 3])], build: (_, x) => ops.sin(x) },
  { name: 'Cos', inputs: [f64([2, 3])], build: (_, x) => ops.cos(x) },
  { name: 'Identity', inputs: [f64([2, 3])], build: (_, x) => ops.identity(x) },
  { name: 'Clip [−0.5, 0.5]', inputs: [f64([3, 4])], build: (_, x) => ops.clip(x, -0.5, 0.5) },
  { name: 'Clip upper only', inputs: [f64([3, 4])], build: (_, x) => ops.clip(x, undefined, 0.3) },
  {
    name: 'Where (both branches, broadcast)',
    inputs: [f64([2, 3]), f64([3])],
    build: (g, a, b) => ops.where(g.constant(hostTensor('bool', [2, 3], Uint8Array.from([1, 0, 0, 1, 1, 0]))), a, b),
  },
  { name: 'fan-out: x·x + sin x + x', inputs: [f64([2, 3])], build: (_, x) => ops.add(ops.add(ops.mul(x, x), ops.sin(x)), x) },
  { name: 'fan-out: x·xᵀ', inputs: [f64([3, 2])], build: (_, x) => ops.matmul(x, ops.transpose(x, [1, 0])) },
];

const linalg: GradCase[] = [
  { name: 'MatMul [2,3]·[3,4]', inputs: [f64([2, 3]), f64([3, 4])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul batched [2,2,3]·[3,4]', inputs: [f64([2, 2, 3]), f64([3, 4])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul broadcast [2,1,2,3]·[3,3,2]', inputs: [f64([2, 1, 2, 3]), f64([3, 3, 2])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [2,3]·[2,3,2]', inputs: [f64([2, 3]), f64([2, 3, 2])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [3]·[3,4]', inputs: [f64([3]), f64([3, 4])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [2,3]·[3]', inputs: [f64([2, 3]), f64([3])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [2,2,3]·[3]', inputs: [f64([2, 2, 3]), f64([3])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [3]·[3]', inputs: [f64([3]), f64([3])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'MatMul [3]·[2,3,4]', inputs: [f64([3]), f64([2, 3, 4])], build: (_, a, b) => ops.matmul(a, b) },
  { name: 'Gemm', inputs: [f64([2, 3]), f64([3, 4]), f64([4])], build: (_, a, b, c) => ops.gemm(a, b, c) },
  {
    name: 'Gemm transA, α, β, C [1,4]',
    inputs: [f64([3, 2]), f64([3, 4]), f64([1, 4])],
    build: (_, a, b, c) => ops.gemm(a, b, c, { transA: true, alpha: 0.7, beta: 1.3 }),
  },
  { name: 'Gemm transB, C [2,4]', inputs: [f64([2, 3]), f64([4, 3]), f64([2, 4])], build: (_, a, b, c) => ops.gemm(a, b, c, { transB: true, beta: 0.5 }) },
  { name: 'Gemm transA transB, no C', inputs: [f64([3, 2]), f64([4, 3])], build: (_, a, b) => ops.gemm(a, b, undefined, { transA: true, transB: true, alpha: 2 }) },
];

const reductions: GradCase[] = [
  { name: 'ReduceSum axis 1', inputs: [f64([2, 3, 2])], build: (_, x) => ops.sum(x, [1]) },
  { name: 'ReduceSum axes [0, 2] keepdims', inputs: [f64([2, 3, 2])], build: (_, x) => ops.sum(x, [0, -1], true) },
  { name: 'ReduceMean axis 1', inputs: [f64([2, 3, 2])], build: (_, x) => ops.mean(x, [1]) },
  { name: 'ReduceMean axes [0, 2] keepdims', inputs: [f64([2, 3, 2])], build: (_, x) => ops.mean(x, [0, 2], true) },
  { name: 'ReduceMax axis 1', inputs: [f64([2, 4, 2])], build: (_, x) => ops.reduceMax(x, [1]) },
  { name: 'ReduceMax keepdims', inputs: [f64([3, 4])], build: (_, x) => ops.reduceMax(x, [0], true) },
  { name: 'Softmax last axis', inputs: [f64([2, 4])], build: (_, x) => ops.softmax(x) },
  { name: 'Softmax axis 0', inputs: [f64([3, 2, 2])], build: (_, x) => ops.softmax(x, 0) },
  { name: 'LogSoftmax', inputs: [f64([2, 4])], build: (_, x) => ops.logSoftmax(x, 1) },
  { name: 'LayerNormalization with bias', inputs: [f64([2, 3, 4]), f64([4]), f64([4])], build: (_, x, s, b) => ops.layerNorm(x, s, b) },
  { name: 'LayerNormalization without bias', inputs: [f64([3, 5]), f64([5])], build: (_, x, s) => ops.layerNorm(x, s, null, 1e-3) },
  {
    name: 'BatchNormalization (inference)',
    inputs: [f64([2, 3, 2, 2]), f64([3]), f64([3])],
    build: (g, x, s, b) => ops.batchNorm(x, s, b, g.constant(f64([3])), g.constant(positive([3])), 1e-3),
  },
  { name: 'BatchNormalization [N, C]', inputs: [f64([4, 3]), f64([3]), f64([3])], build: (g, x, s, b) => ops.batchNorm(x, s, b, g.constant(f64([3])), g.constant(positive([3]))) },
  { name: 'SoftmaxCrossEntropyLoss, one label ignored', inputs: [f64([4, 5], -2, 2)], build: (g, x) => ops.crossEntropy(x, g.constant(i64([4], [1, -100, 4, 1]))) },
];

const composites: GradCase[] = [
  // (silu and quickGelu are checked in float32: onnxruntime fuses them into QuickGelu, which has no float64 kernel)
  { name: 'geluTanh', inputs: [f64([2, 3])], build: (_, x) => ops.geluTanh(x) },
  { name: 'rmsNorm', inputs: [f64([2, 3, 4]), f64([4])], build: (_, x, w) => ops.rmsNorm(x, w) },
  { name: 'linear [2,3,4]·[5,4]ᵀ + [5]', inputs: [f64([2, 3, 4]), f64([5, 4]), f64([5])], build: (_, x, w, b) => ops.linear(x, w, b) },
  {
    // loss = mean((W₂·tanh(W₁x + b₁) + b₂ − t)²), gradients for the input and all four parameters
    name: '2-layer MLP, squared error',
    inputs: [f64([4, 3]), f64([5, 3]), f64([5]), f64([2, 5]), f64([2])],
    build: (g, x, w1, b1, w2, b2) => {
      const err = ops.sub(ops.linear(ops.tanh(ops.linear(x, w1, b1)), w2, b2), g.constant(f64([4, 2])));
      return ops.mean(ops.mul(err, err), [0, 1]);
    },
  },
];

// Symbolic dims: results are reduced to a scalar in the graph (the projection needs a static shape).
const scalarize = (y: Parameters<typeof ops.sin>[0]) => ops.sum(ops.mul(ops.sin(y), y), [...y.shape.keys()]);
const symbolic: GradCase[] = [
  { name: "['n',3] + [1,3]", inputs: [f64([4, 3]), f64([1, 3])], shapes: [['n1', 3]], build: (_, x, b) => scalarize(ops.add(x, b)) },
  { name: "['n',1] · [4]", inputs: [f64([3, 1]), f64([4])], shapes: [['n2', 1]], build: (_, x, b) => scalarize(ops.mul(x, b)) },
  { name: "[1,3] − ['n',3] (a 1 facing a symbol)", inputs: [f64([1, 3]), f64([2, 3])], shapes: [undefined, ['n3', 3]], build: (_, a, b) => scalarize(ops.sub(a, b)) },
  {
    name: "MatMul ['n',2,3]·[3,4], mean over n",
    inputs: [f64([3, 2, 3]), f64([3, 4])],
    shapes: [['n4', 2, 3]],
    build: (_, x, w) => scalarize(ops.mean(ops.matmul(x, w), [0])),
  },
  {
    name: "Concat ['n',3] with [2,3], Slice [1:−1] of the symbolic axis",
    inputs: [f64([3, 3]), f64([2, 3])],
    shapes: [['n5', 3]],
    build: (_, a, b) => scalarize(ops.slice(ops.concat([a, b], 0), [0], [1], [-1])),
  },
  {
    name: 'Slice with run-time bounds (last 3 rows)',
    inputs: [f64([5, 2])],
    build: (g, x) => {
      const start = ops.sub(ops.gather(ops.shapeOf(x), ops.int64s(g, [0])), 3);
      return ops.sliceDynamic(x, start, ops.int64s(g, [Number.MAX_SAFE_INTEGER]), [0], [3, 2]);
    },
  },
  {
    name: "SoftmaxCrossEntropyLoss over ['n',5]",
    inputs: [f64([3, 5])],
    shapes: [['n6', 5]],
    build: (g, x) => ops.crossEntropy(x, ops.slice(g.constant(i64([4], [2, -100, 0, 3])), [0], [0], [-1])),
  },
];

describeGradcheck('grad vs finite differences, float64: elementwise', elementwise, float64);
describeGradcheck('grad vs finite differences, float64: linear algebra', linalg, float64);
describeGradcheck('grad vs finite differences, float64: reductions and normalization', reductions, float64);
describeGradcheck('grad vs finite differences, float64: composites', composites, float64);
describeGradcheck('grad vs finite differences, float64: symbolic dims', symbolic, float64);
