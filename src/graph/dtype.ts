// Element types shared by host tensors, graphs, ONNX emission and safetensors.
// Names follow onnxruntime's tensor type strings; `bfloat16` and `float16` are held as raw 16-bit words.

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** The typed array that holds each dtype on the host. */
export type ArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16' | 'bfloat16'
      ? Uint16Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'int32'
          ? Int32Array
          : D extends 'int8'
            ? Int8Array
            : Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

export function allocate<D extends DType>(dtype: D, size: number): ArrayOf<D> {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size) as ArrayOf<D>;
    case 'float64':
      return new Float64Array(size) as ArrayOf<D>;
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(size) as ArrayOf<D>;
    case 'int64':
      return new BigInt64Array(size) as ArrayOf<D>;
    case 'int32':
      return new Int32Array(size) as ArrayOf<D>;
    case 'int8':
      return new Int8Array(size) as ArrayOf<D>;
    default:
      return new Uint8Array(size) as ArrayOf<D>;
  }
}
