// Mirror test-time augmentation: a face and its mirror image are encoded together and their visual tokens averaged,
// the mirror's grid flipped back so that each token averages the same region of the face seen both ways:
//
//     h̄_v[r, c] = ½ · (h_v(x)[r, c] + h_v(flip(x))[r, G−1−c])
//
// A face is (nearly) symmetric, a frozen network is not: its two readings of the same face differ, and their mean
// is a steadier description of it, for the price of one more encoder pass (the decoder sees as many tokens). A
// model with a landmark branch gets the mirror's landmarks too: x → 1 − x, renumbered so that each index names the
// same iBUG point it did (the mirror's image-left eye is points 36–41 again). `train --mirror-views` trains on the
// two halves one at a time (flipGrid of the mirror's tokens: train/extractor.ts).
import { f32, type HostTensor } from '../graph/host.js';
import type { PatchGrid } from './regions.js';

/** Frames [F, C, H, W] mirrored left to right. */
export function mirrorFrames(frames: HostTensor): HostTensor {
  if (frames.shape.length !== 4) throw new Error(`mirrorFrames: want frames [F, C, H, W], got [${frames.shape.join(', ')}]`);
  const width = frames.shape[3];
  const data = frames.data as Float32Array;
  const out = new Float32Array(data.length);
  for (let at = 0; at < data.length; at += width) {
    for (let x = 0; x < width; x++) out[at + x] = data[at + width - 1 - x];
  }
  return f32([...frames.shape], out);
}

/** Frames [F, C, H, W] followed by their mirror images: [2F, C, H, W]. */
export function withMirrored(frames: HostTensor): HostTensor {
  const mirrored = mirrorFrames(frames);
  const out = new Float32Array(2 * mirrored.data.length);
  out.set(frames.data as Float32Array);
  out.set(mirrored.data as Float32Array, mirrored.data.length);
  return f32([2 * frames.shape[0], ...frames.shape.slice(1)], out);
}

/** The token of a mirror image's grid that reads the place token j reads in the image: same row, opposite column (a CLS token is its own). */
function mirroredToken(j: number, grid: PatchGrid): number {
  const cls = grid.cls ? 1 : 0;
  const cell = j - cls;
  return cell < 0 ? j : cls + Math.floor(cell / grid.size) * grid.size + (grid.size - 1 - (cell % grid.size));
}

function checkTokens(name: string, tokens: HostTensor, grid: PatchGrid): [number, number, number] {
  const [count, n, d] = tokens.shape;
  if (tokens.shape.length !== 3 || n !== grid.size * grid.size + (grid.cls ? 1 : 0)) {
    throw new Error(`${name}: want tokens [F, ${grid.size * grid.size + (grid.cls ? 1 : 0)}, d], got [${tokens.shape.join(', ')}]`);
  }
  return [count, n, d];
}

/**
 * Visual tokens [F, N, d] of mirror images with their grid flipped back left to right, so that token j describes
 * the same part of the face as token j of the unmirrored image: a mirrored view of a face in the model's own frame.
 */
export function flipGrid(tokens: HostTensor, grid: PatchGrid): HostTensor {
  const [count, n, d] = checkTokens('flipGrid', tokens, grid);
  const data = tokens.data as Float32Array;
  const out = new Float32Array(data.length);
  for (let f = 0; f < count; f++) {
    for (let j = 0; j < n; j++) {
      const from = (f * n + mirroredToken(j, grid)) * d;
      out.set(data.subarray(from, from + d), (f * n + j) * d);
    }
  }
  return f32([count, n, d], out);
}

/**
 * Visual tokens [2F, N, d] of frames and their mirror images (withMirrored's order) → [F, N, d]: each frame's tokens
 * averaged with its mirror's, whose grid is flipped back left to right (a CLS token, first when the grid has one,
 * averaged as it is).
 */
export function mirrorMean(tokens: HostTensor, grid: PatchGrid): HostTensor {
  const [doubled, n, d] = checkTokens('mirrorMean', tokens, grid);
  const frames = doubled / 2;
  if (!Number.isInteger(frames)) throw new Error(`mirrorMean: want tokens [2F, ${n}, d], got [${tokens.shape.join(', ')}]`);
  const data = tokens.data as Float32Array;
  const size = n * d;
  const out = new Float32Array(frames * size);
  for (let f = 0; f < frames; f++) {
    const seen = f * size;
    const mirrored = (frames + f) * size;
    for (let j = 0; j < n; j++) {
      const k = mirroredToken(j, grid);
      for (let c = 0; c < d; c++) out[seen + j * d + c] = 0.5 * (data[seen + j * d + c] + data[mirrored + k * d + c]);
    }
  }
  return f32([frames, n, d], out);
}

/** iBUG-68 point i of a mirror image is point MIRROR_68[i] of the original: each left/right pair swapped. */
export const MIRROR_68: readonly number[] = [
  ...range(16, 0), // jaw
  ...range(26, 22), // eyebrows
  ...range(21, 17),
  27, 28, 29, 30, // nose bridge
  ...range(35, 31), // nostrils
  45, 44, 43, 42, 47, 46, // eyes
  39, 38, 37, 36, 41, 40,
  ...range(54, 48), // outer lips
  ...range(59, 55),
  ...range(64, 60), // inner lips
  ...range(67, 65),
];

/** from, from − 1, …, to. */
function range(from: number, to: number): number[] {
  return Array.from({ length: from - to + 1 }, (_, i) => from - i);
}

/** Landmarks [F, 68, 2] (fractions of the crop) followed by those of the mirror images: [2F, 68, 2]. */
export function withMirroredLandmarks(landmarks: HostTensor): HostTensor {
  const [count, points, xy] = landmarks.shape;
  if (landmarks.shape.length !== 3 || points !== MIRROR_68.length || xy !== 2) {
    throw new Error(`withMirroredLandmarks: want landmarks [F, 68, 2], got [${landmarks.shape.join(', ')}]`);
  }
  const data = landmarks.data as Float32Array;
  const out = new Float32Array(2 * data.length);
  out.set(data);
  for (let f = 0; f < count; f++) {
    const at = f * points * 2;
    MIRROR_68.forEach((source, i) => {
      out[data.length + at + 2 * i] = 1 - data[at + 2 * source];
      out[data.length + at + 2 * i + 1] = data[at + 2 * source + 1];
    });
  }
  return f32([2 * count, points, 2], out);
}
