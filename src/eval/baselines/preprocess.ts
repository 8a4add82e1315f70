// The image steps of the two libraries, on the host, with TF.js's own arithmetic (its cpu kernels, which the wasm
// backend matches): both libraries resize with `tf.image.resizeBilinear` without half-pixel centres — the legacy
// TF sampling, x_src = x · in/out, that neither sharp nor onnxruntime's Resize offers — and human first cuts the
// face out with `tf.image.cropAndResize`, which samples corner to corner. Replaying the kernels is what makes the
// baselines the libraries' models as the libraries run them; test/eval-baselines.test.ts holds them to TF.js.
import type { RgbImage } from '../../face/rgb.js';

/** An NHWC float image batch: `data` holds n × height × width × channels values. */
export interface FloatImages {
  n: number;
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
}

/** Crops as a float batch, RGB in 0..255 (all crops the same size: the face expert's are 256×256). */
export function cropsToFloat(crops: readonly RgbImage[]): FloatImages {
  const { width, height } = crops[0];
  const data = new Float32Array(crops.length * width * height * 3);
  crops.forEach((crop, i) => {
    if (crop.width !== width || crop.height !== height) throw new Error(`crops differ in size: ${crop.width}×${crop.height} and ${width}×${height}`);
    data.set(crop.rgb, i * width * height * 3);
  });
  return { n: crops.length, height, width, channels: 3, data };
}

/** Where one output row (or column) samples its input: between lines `lo` and `hi`, `frac` of the way. */
interface Tap {
  lo: number;
  hi: number;
  frac: number;
}

/** Sampling at the source coordinate `f`: lines floor(f) and ceil(f), the latter no further than `last`. */
function tap(f: number, last = Infinity): Tap {
  const lo = Math.max(0, Math.floor(f));
  return { lo, hi: Math.min(last, Math.ceil(f)), frac: f - lo };
}

/**
 * Every image sampled bilinearly at the given rows and columns: along each row between its two columns first,
 * then between the two rows — the order (and so the rounding) of TF.js's cpu kernels.
 */
function sampleBilinear(x: FloatImages, rows: readonly Tap[], cols: readonly Tap[]): FloatImages {
  const { n, height, width, channels: c } = x;
  const out = new Float32Array(n * rows.length * cols.length * c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    const base = b * height * width * c;
    for (const { lo: r0, hi: r1, frac: dr } of rows) {
      for (const { lo: q0, hi: q1, frac: dq } of cols) {
        for (let k = 0; k < c; k++) {
          const tl = x.data[base + (r0 * width + q0) * c + k];
          const tr = x.data[base + (r0 * width + q1) * c + k];
          const bl = x.data[base + (r1 * width + q0) * c + k];
          const br = x.data[base + (r1 * width + q1) * c + k];
          const top = tl + (tr - tl) * dq;
          const bottom = bl + (br - bl) * dq;
          out[o++] = top + (bottom - top) * dr;
        }
      }
    }
  }
  return { n, height: rows.length, width: cols.length, channels: c, data: out };
}

/** `tf.image.resizeBilinear(x, [outH, outW], alignCorners = false, halfPixelCenters = false)`. */
export function resizeBilinear(x: FloatImages, outH: number, outW: number): FloatImages {
  const { height, width } = x;
  const rowRatio = height / outH;
  const colRatio = width / outW;
  const rows = Array.from({ length: outH }, (_, r) => tap(rowRatio * r, height - 1));
  const cols = Array.from({ length: outW }, (_, q) => tap(colRatio * q, width - 1));
  return sampleBilinear(x, rows, cols);
}

/**
 * `tf.image.cropAndResize(x, [[0, 0, 1, 1]] per image, …, [size, size], 'bilinear')`: the whole image, sampled
 * from the first to the last pixel centre (y_src = y · (in − 1)/(size − 1)).
 */
export function cropAndResizeWhole(x: FloatImages, size: number): FloatImages {
  const { height, width } = x;
  const hs = size > 1 ? (height - 1) / (size - 1) : 0;
  const ws = size > 1 ? (width - 1) / (size - 1) : 0;
  // y · hs can land a rounding error past the last pixel centre (3.0000000000000004 of 4 rows): clamp, or the
  // sample reads past the image.
  const rows = Array.from({ length: size }, (_, y) => tap(size > 1 ? y * hs : 0.5 * (height - 1), height - 1));
  const cols = Array.from({ length: size }, (_, xq) => tap(size > 1 ? xq * ws : 0.5 * (width - 1), width - 1));
  return sampleBilinear(x, rows, cols);
}

/** An elementwise op on every value, stored in float32 as a TF.js op stores it. */
export function mapValues(x: FloatImages, f: (v: number) => number): FloatImages {
  return { ...x, data: x.data.map(f) };
}
