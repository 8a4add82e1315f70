// Shape inference helpers used by the op library. Symbolic dimensions are strings; two different symbols are
// assumed equal at run time (onnxruntime checks them then), a fixed size and a symbol resolve to the size.
import { type Dim, type Shape, GraphBuildError, formatShape } from './graph.js';

let unknownCounter = 0;
/** A fresh symbolic dimension for a size the builder cannot know (e.g. Reshape's -1 over symbolic input). */
export function unknownDim(): string {
  return `?${unknownCounter++}`;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphBuildError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, op: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    out.push(broadcastDim(x, y, () => `${op}: cannot broadcast ${formatShape(a)} with ${formatShape(b)}`));
  }
  return out;
}

function broadcastDim(x: Dim, y: Dim, message: () => string): Dim {
  if (x === y) return x;
  if (x === 1) return y;
  if (y === 1) return x;
  if (typeof x === 'number' && typeof y === 'number') throw new GraphBuildError(message());
  return typeof x === 'number' ? x : y; // a fixed size wins over a symbol
}

/** Product of dims if all are fixed, else undefined. */
export function staticSize(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

/** Dims `a` and `b` must agree (a contraction or concat side dimension). */
export function checkSameDim(a: Dim, b: Dim, message: () => string): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) throw new GraphBuildError(message());
  return typeof a === 'number' ? a : b;
}

export function sumDims(dims: readonly Dim[]): Dim {
  let n = 0;
  for (const d of dims) {
    if (typeof d !== 'number') return unknownDim();
    n += d;
  }
  return n;
}

/** Output shape of ONNX Reshape with its 0 (copy) and -1 (infer) conventions. */
export function reshapeShape(input: Shape, target: readonly number[], op = 'reshape'): Dim[] {
  const out: Dim[] = target.map((d, i) => {
    if (d === 0) {
      if (i >= input.length) throw new GraphBuildError(`${op}: 0 at position ${i} copies a dimension the input ${formatShape(input)} lacks`);
      return input[i];
    }
    return d;
  });
  const inferred = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new GraphBuildError(`${op}: more than one -1 in ${formatShape(target)}`);
  const total = staticSize(input);
  if (inferred >= 0) {
    const rest = staticSize(out.filter((_, i) => i !== inferred));
    if (total !== undefined && rest !== undefined) {
      if (rest === 0 || total % rest !== 0) {
        throw new GraphBuildError(`${op}: cannot reshape ${formatShape(input)} into ${formatShape(target)}`);
      }
      out[inferred] = total / rest;
    } else {
      out[inferred] = unknownDim();
    }
  } else if (total !== undefined) {
    const n = staticSize(out);
    if (n !== undefined && n !== total) {
      throw new GraphBuildError(`${op}: cannot reshape ${formatShape(input)} (${total} elements) into ${formatShape(target)} (${n})`);
    }
  }
  return out;
}

/** Output size of a convolution or pooling window along one axis. */
export function windowOut(size: Dim, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil = false): Dim {
  if (typeof size !== 'number') return unknownDim();
  const span = size + padBegin + padEnd - dilation * (kernel - 1) - 1;
  return (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
}
