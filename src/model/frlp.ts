// FRLP — the Face-Region Landmark Projector (paper §3). The 68 landmarks z of a frame are grouped into face
// regions; each region's flattened (x, y) points go through its own linear layer to one token, and one more
// linear layer maps all 136 values to a global token that is added to every region token:
//
//   h_l[i] = W_i · vec(z[region i]) + b_i  +  W_g · vec(z) + b_g          (i = 1 … 9)
//
// Weights, relative to the model scope (`model.` in the released checkpoints):
// `landmarks_projector.region_layers.<region>.{weight,bias}` and `global_landmarks_projector.{weight,bias}`.
import type { Tensor } from '../graph/graph.js';
import { GraphBuildError } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { type FaceRegion, NUM_LANDMARKS } from './regions.js';
import { linearLayer } from './vision/layers.js';

/** Landmarks [..., 68, 2] (normalized x, y) → region tokens [..., R, width]. */
export function frlp(landmarks: Tensor, regions: readonly FaceRegion[], width: number): Tensor {
  if (landmarks.rank < 2 || landmarks.dim(-2) !== NUM_LANDMARKS || landmarks.dim(-1) !== 2) {
    throw new GraphBuildError(`frlp: landmarks must be [..., ${NUM_LANDMARKS}, 2], got ${landmarks}`);
  }
  const g = landmarks.graph;
  const local = g.scope('landmarks_projector.region_layers', () =>
    regions.map((r) => {
      const points = flattenPoints(ops.slice(landmarks, [-2], [r.start], [r.end]));
      return ops.unsqueeze(linearLayer(r.name, points, width), [-2]);
    }),
  );
  const global = linearLayer('global_landmarks_projector', flattenPoints(landmarks), width);
  return ops.add(ops.concat(local, -2), ops.unsqueeze(global, [-2]));
}

/** [..., n, 2] → [..., 2n], x and y interleaved as PyTorch's flatten gives them. */
function flattenPoints(points: Tensor): Tensor {
  const n = points.dim(-2) as number;
  return ops.reshape(points, [...Array<number>(points.rank - 2).fill(0), 2 * n]);
}

