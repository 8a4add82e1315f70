// Autodiff of shape, indexing and pooling ops, checked against central differences in float64.
import { i64, ops } from '../src/graph/index.js';
import { type GradCase, describeGradcheck, random } from './helpers/gradcheck.js';

let seed = 100;
const f64 = (shape: number[]) => random('float64', shape, seed++);

const cases: GradCase[] = [
  { name: 'Reshape', inputs: [f64([2, 3, 2])], build: (_, x) => ops.reshape(x, [3, -1]) },
  { name: 'Reshape to a run-time shape', inputs: [f64([2, 3, 2])], build: (g, x) => ops.reshapeTo(x, ops.int64s(g, [6, 2]), [6, 2]) },
  { name: 'Transpose', inputs: [f64([2, 3, 4])], build: (_, x) => ops.transpose(x, [2, 0, 1]) },
  { name: 'Unsqueeze', inputs: [f64([2, 3])], build: (_, x) => ops.unsqueeze(x, [0, 2]) },
  { name: 'Squeeze', inputs: [f64([2, 1, 3])], build: (_, x) => ops.squeeze(x, [1]) },
  { name: 'Concat', inputs: [f64([2, 1]), f64([2, 3]), f64([2, 2])], build: (_, a, b, c) => ops.concat([a, b, c], 1) },
  {
    name: 'Split, middle output unused',
    inputs: [f64([2, 6])],
    build: (_, x) => {
      const [a, , c] = ops.split(x, [1, 2, 3], 1);
      return ops.concat([c, a], 1);
    },
  },
  { name: 'Split, first output unused', inputs: [f64([4, 2])], build: (_, x) => ops.split(x, [1, 3], 0)[1] },
  { name: 'Slice two axes, negative start, open end', inputs: [f64([4, 5])], build: (_, x) => ops.slice(x, [0, 1], [1, -3], [3, Infinity]) },
  { name: 'Slice step 2', inputs: [f64([7, 2])], build: (_, x) => ops.slice(x, [0], [1], [Infinity], [2]) },
  { name: 'Slice step −2 and a unit-step axis', inputs: [f64([6, 4])], build: (_, x) => ops.slice(x, [0, 1], [-1, 1], [-Infinity, 3], [-2, 1]) },
  { name: 'Gather axis 0, repeated indices', inputs: [f64([3, 4])], build: (g, x) => ops.gather(x, g.constant(i64([4], [0, 2, 0, 0]))) },
  {
    name: 'Gather embedding lookup [2,4] ids (repeats, a negative id)',
    inputs: [f64([5, 3])],
    build: (g, w) => ops.tanh(ops.gather(w, g.constant(i64([2, 4], [1, 4, 1, 0, -1, 1, 2, 1])))),
  },
  { name: 'Gather axis 1, 2-D indices', inputs: [f64([2, 3, 4])], build: (g, x) => ops.gather(x, g.constant(i64([2, 2], [0, 2, 2, 2])), 1) },
  { name: 'Gather scalar index, axis 2', inputs: [f64([2, 3, 4])], build: (g, x) => ops.gather(x, ops.scalar(g, 3, 'int64'), 2) },
  {
    name: 'GatherElements, repeated indices',
    inputs: [f64([2, 3])],
    build: (g, x) => ops.gatherElements(x, g.constant(i64([2, 4], [0, 0, 2, 1, 1, 1, 1, 0])), 1),
  },
  {
    name: 'ScatterElements add (data and updates)',
    inputs: [f64([3, 3]), f64([2, 3])],
    build: (g, d, u) => ops.scatterAdd(d, g.constant(i64([2, 3], [0, 2, 2, 0, 1, 2])), u, 0),
  },
  { name: 'Expand [3,1] → [2,3,4]', inputs: [f64([3, 1])], build: (_, x) => ops.expand(x, [2, 3, 4]) },
  { name: 'Trilu lower', inputs: [f64([2, 3, 3])], build: (_, x) => ops.trilu(x, false) },
  { name: 'Trilu upper, k = 1', inputs: [f64([3, 4])], build: (_, x) => ops.trilu(x, true, 1) },
  { name: 'MaxPool 2×2 stride 2, padded', inputs: [f64([2, 2, 5, 5])], build: (_, x) => ops.maxPool(x, { kernel: [2, 2], pads: [1, 1, 0, 0] }) },
  { name: 'MaxPool 3×3 stride 2, ceil mode', inputs: [f64([1, 2, 6, 6])], build: (_, x) => ops.maxPool(x, { kernel: [3, 3], strides: [2, 2], ceil: true }) },
];

describeGradcheck('grad vs finite differences, float64: shape, indexing, max pooling', cases, { eps: 1e-6, tolerance: 1e-6 });
