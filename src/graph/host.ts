// Host tensors: concrete data in JavaScript memory (weights, inputs, outputs). Row-major, no strides.
import { allocate, type DType, type TypedArray } from './dtype.js';

export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function hostTensor(dtype: DType, shape: readonly number[], data?: TypedArray): HostTensor {
  const n = numel(shape);
  const d = data ?? allocate(dtype, n);
  if (d.length !== n) throw new Error(`hostTensor: ${dtype}[${shape.join(',')}] needs ${n} elements, got ${d.length}`);
  return { dtype, shape: [...shape], data: d };
}

export function f32(shape: readonly number[], data?: ArrayLike<number>): HostTensor {
  return hostTensor('float32', shape, data ? Float32Array.from(data) : undefined);
}

export function i64(shape: readonly number[], data?: ArrayLike<number | bigint>): HostTensor {
  return hostTensor('int64', shape, data ? BigInt64Array.from(Array.from(data, (v) => BigInt(v))) : undefined);
}

/** Largest absolute elementwise difference between two float tensors of the same shape. */
export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`maxAbsDiff: shapes differ [${a.shape.join(',')}] vs [${b.shape.join(',')}]`);
  }
  let m = 0;
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (!(d <= m)) m = d; // NaN propagates as the maximum
  }
  return m;
}
