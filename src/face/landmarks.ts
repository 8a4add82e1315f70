// 68 iBUG landmarks on a face crop, from MediaPipe FaceMesh (468 points, 192×192 input, as shipped in
// @vladmandic/human's models/facemesh.json) reduced to the 68 points of the iBUG 300-W layout.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CROP_SIZE } from './crop.js';
import type { Point } from './regions.js';
import type { RgbImage } from './rgb.js';
import { humanModelsDir, loadGraphModel } from './tfjs.js';

const MESH_INPUT = 192;
const MESH_POINTS = 468;

/**
 * For each iBUG point, the FaceMesh vertex at the same place on the face: `VTX68` of @vladmandic/human
 * (src/face/facemeshcoords.ts, MIT licence). Contour 0–16, brows 17–26, nose 27–35, eyes 36–47, outer lips
 * 48–59, inner lips 60–67.
 */
export const MESH_TO_IBUG68: readonly number[] = [
  127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356, // contour
  70, 63, 105, 66, 107, 336, 296, 334, 293, 300, // brows
  168, 6, 195, 4, 98, 97, 2, 326, 327, // nose
  33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380, // eyes
  57, 40, 37, 0, 267, 270, 287, 321, 314, 17, 84, 91, // outer lips
  78, 81, 13, 311, 308, 402, 14, 178, // inner lips
];

export class LandmarkModel {
  private constructor(private readonly model: tf.GraphModel<tf.io.IOHandlerSync>) {}

  static async load(): Promise<LandmarkModel> {
    return new LandmarkModel(await loadGraphModel(path.join(humanModelsDir(), 'facemesh.json')));
  }

  /**
   * The 68 landmarks of the face in a CROP_SIZE² crop, as fractions of the crop's width and height. FaceMesh
   * expects the face framed the way faceCropRegion frames it, so the crop is its input, only resized.
   */
  locate(crop: RgbImage): Point[] {
    if (crop.width !== CROP_SIZE || crop.height !== CROP_SIZE) throw new Error(`landmarks need a ${CROP_SIZE}² crop`);
    const mesh = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(crop.rgb), [1, CROP_SIZE, CROP_SIZE, 3]);
      const input = tf.image.resizeBilinear(x, [MESH_INPUT, MESH_INPUT], false, true).div(255);
      // Three outputs: the mesh (468 × xyz), a face-presence flag and contours; only the mesh is used.
      const outputs = this.model.execute(input) as tf.Tensor[];
      const points = outputs.find((t) => t.shape[t.shape.length - 1] === MESH_POINTS * 3);
      if (!points) throw new Error('FaceMesh returned no 468-point mesh');
      return points;
    });
    const xyz = mesh.dataSync();
    mesh.dispose();
    return MESH_TO_IBUG68.map((v): Point => [xyz[3 * v] / MESH_INPUT, xyz[3 * v + 1] / MESH_INPUT]);
  }

  dispose(): void {
    this.model.dispose();
  }
}
