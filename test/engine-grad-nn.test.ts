// Autodiff of ops onnxruntime's CPU provider runs in float32 only (Erf, LeakyRelu, Conv, ConvTranspose, average
// pooling, the fused QuickGelu), checked against central differences in float32 with a looser tolerance.
import { attr, ops } from '../src/graph/index.js';
import { type GradCase, describeGradcheck, random } from './helpers/gradcheck.js';

let seed = 200;
const f32 = (shape: number[]) => random('float32', shape, seed++);

const cases: GradCase[] = [
  { name: 'Erf', inputs: [f32([2, 3])], build: (_, x) => ops.erf(x) },
  { name: 'gelu (erf form)', inputs: [f32([2, 3])], build: (_, x) => ops.gelu(x) },
  { name: 'LeakyRelu α = 0.2', inputs: [f32([2, 3])], build: (_, x) => ops.leakyRelu(x, 0.2) },
  { name: 'silu', inputs: [f32([2, 3])], build: (_, x) => ops.silu(x) },
  { name: 'quickGelu', inputs: [f32([2, 3])], build: (_, x) => ops.quickGelu(x) },
  { name: 'Cast float32 → float64 → float32', inputs: [f32([2, 3])], build: (_, x) => ops.cast(ops.exp(ops.cast(x, 'float64')), 'float32') },
  { name: 'Conv 3×3 pad 1, bias', inputs: [f32([2, 3, 5, 5]), f32([4, 3, 3, 3]), f32([4])], build: (_, x, w, b) => ops.conv(x, w, b, { pads: [1, 1, 1, 1] }) },
  {
    name: 'Conv stride 2, asymmetric pads',
    inputs: [f32([1, 2, 6, 5]), f32([3, 2, 2, 3])],
    build: (_, x, w) => ops.conv(x, w, null, { strides: [2, 2], pads: [0, 1, 1, 0] }),
  },
  {
    name: 'Conv dilation 2, stride 2',
    inputs: [f32([1, 2, 7, 8]), f32([2, 2, 2, 2])],
    build: (_, x, w) => ops.conv(x, w, null, { strides: [2, 2], dilations: [2, 2] }),
  },
  {
    name: 'Conv groups 2, stride 2, pad 1',
    inputs: [f32([2, 4, 5, 5]), f32([6, 2, 3, 3]), f32([6])],
    build: (_, x, w, b) => ops.conv(x, w, b, { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  { name: 'Conv depthwise', inputs: [f32([1, 3, 4, 4]), f32([3, 1, 3, 3])], build: (_, x, w) => ops.conv(x, w, null, { group: 3, pads: [1, 1, 1, 1] }) },
  { name: 'Conv 1-D stride 2', inputs: [f32([2, 2, 7]), f32([3, 2, 3])], build: (_, x, w) => ops.conv(x, w, null, { strides: [2] }) },
  { name: 'Conv patch embedding 4×4 stride 4', inputs: [f32([1, 3, 8, 8]), f32([4, 3, 4, 4])], build: (_, x, w) => ops.conv(x, w, null, { strides: [4, 4] }) },
  { name: 'AveragePool 2×2, padded', inputs: [f32([1, 2, 5, 5])], build: (_, x) => ops.avgPool(x, { kernel: [2, 2], pads: [1, 1, 0, 0] }) },
  { name: 'AveragePool 3×3 stride 1 pad 1', inputs: [f32([1, 2, 4, 4])], build: (_, x) => ops.avgPool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }) },
  { name: 'AveragePool 3×3 stride 2, ceil mode', inputs: [f32([1, 1, 6, 6])], build: (_, x) => ops.avgPool(x, { kernel: [3, 3], strides: [2, 2], ceil: true }) },
  {
    name: 'AveragePool counting pads',
    inputs: [f32([1, 2, 5, 5])],
    build: (_, x) => {
      const attrs = { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(1) };
      return ops.custom('AveragePool', [x], attrs, [{ dtype: 'float32', shape: [1, 2, 3, 3] }])[0];
    },
  },
  { name: 'GlobalAveragePool', inputs: [f32([2, 3, 3, 4])], build: (_, x) => ops.globalAvgPool(x) },
  { name: "GlobalAveragePool over symbolic ['h','w']", inputs: [f32([1, 2, 3, 4])], shapes: [[1, 2, 'h', 'w']], build: (_, x) => ops.sum(ops.mul(ops.globalAvgPool(x), ops.globalAvgPool(x)), [0, 1, 2, 3]) },
];

describeGradcheck('grad vs finite differences, float32: erf, conv, average pooling', cases, { eps: 1e-3, tolerance: 1e-2 });
