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

/** `tf.image.resizeBilinear(x, [outH, outW], alignCorners = false, halfPixelCenters = false)`. */
export function resizeBilinear(x: FloatImages, outH: number, outW: number): FloatImages {
  const { n, height, width, channels: c } = x;
  const out = new Float32Array(n * outH * outW * c);
  const rowRatio = height / outH;
  const colRatio = width / outW;
  let o = 0;
  for (let b = 0; b < n; b++) {
    const base = b * height * width * c;
    for (let r = 0; r < outH; r++) {
      const fr = rowRatio * r;
      const r0 = Math.max(0, Math.floor(fr));
      const r1 = Math.min(height - 1, Math.ceil(fr));
      const dr = fr - r0;
      for (let q = 0; q < outW; q++) {
        const fq = colRatio * q;
        const q0 = Math.max(0, Math.floor(fq));
        const q1 = Math.min(width - 1, Math.ceil(fq));
        const dq = fq - q0;
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
  return { n, height: outH, width: outW, channels: c, data: out };
}

/**
 * `tf.image.cropAndResize(x, [[0, 0, 1, 1]] per image, …, [size, size], 'bilinear')`: the whole image, sampled
 * from the first to the last pixel centre (y_src = y · (in − 1)/(size − 1)).
 */
export function cropAndResizeWhole(x: FloatImages, size: number): FloatImages {
  const { n, height, width, channels: c } = x;
  const out = new Float32Array(n * size * size * c);
  const hs = size > 1 ? (height - 1) / (size - 1) : 0;
  const ws = size > 1 ? (width - 1) / (size - 1) : 0;
  let o = 0;
  for (let b = 0; b < n; b++) {
    const base = b * height * width * c;
    for (let y = 0; y < size; y++) {
      const fy = size > 1 ? y * hs : 0.5 * (height - 1);
      const y0 = Math.floor(fy);
      const y1 = Math.ceil(fy);
      const dy = fy - y0;
      for (let xq = 0; xq < size; xq++) {
        const fx = size > 1 ? xq * ws : 0.5 * (width - 1);
        const x0 = Math.floor(fx);
        const x1 = Math.ceil(fx);
        const dx = fx - x0;
        for (let k = 0; k < c; k++) {
          const tl = x.data[base + (y0 * width + x0) * c + k];
          const tr = x.data[base + (y0 * width + x1) * c + k];
          const bl = x.data[base + (y1 * width + x0) * c + k];
          const br = x.data[base + (y1 * width + x1) * c + k];
          const top = tl + (tr - tl) * dx;
          const bottom = bl + (br - bl) * dx;
          out[o++] = top + (bottom - top) * dy;
        }
      }
    }
  }
  return { n, height: size, width: size, channels: c, data: out };
}

/** An elementwise op on every value, stored in float32 as a TF.js op stores it. */
export function mapValues(x: FloatImages, f: (v: number) => number): FloatImages {
  return { ...x, data: x.data.map(f) };
}
