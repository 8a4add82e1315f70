// Face geometry shared by FRLP and FRGCA: the 9 regions of the 68-point iBUG 300-W landmark layout, their
// centroids, the centroids of the patch grid of a visual encoder, and the Region-Patch Proximity mask between
// the two (paper §3, "FRGCA"). Coordinates are normalized to [0, 1] as (x, y).
import { f32 } from '../graph/host.js';
import type { Tensor } from '../graph/graph.js';
import { GraphBuildError } from '../graph/graph.js';
import * as ops from '../graph/ops.js';

/** Landmarks [start, end) of one face region; `name` is its key in the released checkpoints. */
export interface FaceRegion {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

export const NUM_LANDMARKS = 68;

/** The 9 regions of the iBUG 300-W layout, in the order of the released code's `facial_regions`. */
export const IBUG68_REGIONS: readonly FaceRegion[] = [
  { name: 'face', start: 0, end: 17 },
  { name: 'eyebrow1', start: 17, end: 22 },
  { name: 'eyebrow2', start: 22, end: 27 },
  { name: 'nose', start: 27, end: 31 },
  { name: 'nostril', start: 31, end: 36 },
  { name: 'eye1', start: 36, end: 42 },
  { name: 'eye2', start: 42, end: 48 },
  { name: 'lips', start: 48, end: 60 },
  { name: 'teeth', start: 60, end: 68 },
];

/** The geometry of an encoder's tokens: a G×G grid of patches in row-major order, optionally after a CLS token. */
export interface PatchGrid {
  /** G: the grid is G×G. */
  readonly size: number;
  /** Whether token 0 is a CLS token with no place on the grid. */
  readonly cls: boolean;
}

export function tokensPerFrame(grid: PatchGrid): number {
  return grid.size * grid.size + (grid.cls ? 1 : 0);
}

/**
 * A feature map [F, C, G, G] as tokens [F, G², C]: token j = row·G + col is the cell (row, col), the row-major
 * order that patch centroids and the RPP mask assume.
 */
export function gridTokens(map: Tensor): Tensor {
  const [, channels, rows, cols] = map.shape;
  if (map.rank !== 4 || typeof channels !== 'number' || rows !== cols || typeof rows !== 'number') {
    throw new GraphBuildError(`gridTokens: want a square feature map [F, C, G, G] with C and G fixed, got ${map}`);
  }
  return ops.transpose(ops.reshape(map, [0, channels, rows * rows]), [0, 2, 1]);
}

/**
 * Region centroids [..., R, 2] of landmarks [..., 68, 2]: c_i = mean of the points of region i. Written as one
 * matmul with a constant averaging matrix A[i, k] = 1/|region i| for k in region i.
 */
export function regionCentroids(landmarks: Tensor, regions: readonly FaceRegion[]): Tensor {
  const average = new Float32Array(regions.length * NUM_LANDMARKS);
  regions.forEach((r, i) => {
    for (let k = r.start; k < r.end; k++) average[i * NUM_LANDMARKS + k] = 1 / (r.end - r.start);
  });
  const a = landmarks.graph.constant(f32([regions.length, NUM_LANDMARKS], average), 'region_average');
  return ops.matmul(a, landmarks);
}

/**
 * Patch centroids [G², 2]: patch j = row·G + col covers the cell whose centre is ((col + ½)/G, (row + ½)/G) as
 * (x, y). (The released code's unused masked variant builds its grid with x taken from the row index; the paper
 * and the golden reference use the convention here.)
 */
export function patchCentroids(size: number): Float32Array {
  const out = new Float32Array(size * size * 2);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      out[(row * size + col) * 2] = (col + 0.5) / size;
      out[(row * size + col) * 2 + 1] = (row + 0.5) / size;
    }
  }
  return out;
}

/**
 * The Region-Patch Proximity mask [..., N, R] for landmarks [..., 68, 2]:
 *
 *   m[j, i] = −‖centroid(region i) − centroid(patch j)‖₂
 *
 * so attention from a patch favours the regions near it. A CLS token has no place on the grid: its row is 0.
 */
export function rppMask(landmarks: Tensor, grid: PatchGrid, regions: readonly FaceRegion[]): Tensor {
  if (landmarks.rank < 2 || landmarks.dim(-2) !== NUM_LANDMARKS || landmarks.dim(-1) !== 2) {
    throw new GraphBuildError(`rppMask: landmarks must be [..., ${NUM_LANDMARKS}, 2], got ${landmarks}`);
  }
  const g = landmarks.graph;
  const cells = grid.size * grid.size;
  const patches = g.constant(f32([cells, 1, 2], patchCentroids(grid.size)), 'patch_centroids');
  const regionsAt = ops.unsqueeze(regionCentroids(landmarks, regions), [-3]); // [..., 1, R, 2]
  const diff = ops.sub(regionsAt, patches); // [..., N, R, 2]
  const mask = ops.neg(ops.sqrt(ops.sum(ops.mul(diff, diff), [-1])));
  if (!grid.cls) return mask;
  const zeros = g.constant(f32([1, regions.length]), 'cls_mask_row');
  const clsRow = ops.expand(zeros, ops.slice(mask, [-2], [0], [1])); // [..., 1, R]
  return ops.concat([clsRow, mask], -2);
}
