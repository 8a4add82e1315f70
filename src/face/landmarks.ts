// 68 iBUG landmarks on a face crop, from MediaPipe FaceMesh (468 points, 192×192 input, as shipped in
// @vladmandic/human's models/facemesh.json) reduced to the 68 points of the iBUG 300-W layout.
import { CROP_SIZE } from './crop.js';
import { faceModel, runFaceModel, type FaceModel } from './engine.js';
import type { Point } from './regions.js';
import type { RgbImage } from './rgb.js';

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

/**
 * TF.js's `resizeBilinear(x, [to, to], alignCorners = false, halfPixelCenters = true)` of a `from`² RGB image,
 * scaled by 1/255: FaceMesh's input as @vladmandic/human prepares it.
 */
function resizeToMeshInput(rgb: Uint8Array, from: number, to: number): Float32Array {
  // Per output row/column: the two source indices and the weight of the second, as TF computes them.
  const taps = Array.from({ length: to }, (_, i) => {
    const at = (i + 0.5) * (from / to) - 0.5;
    const floor = Math.floor(at);
    return { lo: Math.max(floor, 0), hi: Math.min(Math.ceil(at), from - 1), t: at - floor };
  });
  const out = new Float32Array(to * to * 3);
  for (let y = 0; y < to; y++) {
    const ty = taps[y];
    for (let x = 0; x < to; x++) {
      const tx = taps[x];
      for (let c = 0; c < 3; c++) {
        const tl = rgb[(ty.lo * from + tx.lo) * 3 + c];
        const tr = rgb[(ty.lo * from + tx.hi) * 3 + c];
        const bl = rgb[(ty.hi * from + tx.lo) * 3 + c];
        const br = rgb[(ty.hi * from + tx.hi) * 3 + c];
        const top = tl + (tr - tl) * tx.t;
        const bottom = bl + (br - bl) * tx.t;
        out[(y * to + x) * 3 + c] = (top + (bottom - top) * ty.t) / 255;
      }
    }
  }
  return out;
}

export class LandmarkModel {
  private constructor(
    private readonly model: FaceModel,
    /** The output holding the mesh (468 × xyz); the others, a face-presence flag and contours, go unused. */
    private readonly meshOutput: string,
  ) {}

  static async load(): Promise<LandmarkModel> {
    const model = await faceModel('facemesh.json', MESH_INPUT);
    const mesh = model.outputs.find((o) => o.shape[o.shape.length - 1] === MESH_POINTS * 3);
    if (!mesh) throw new Error('FaceMesh has no 468-point mesh output');
    return new LandmarkModel(model, mesh.name);
  }

  /**
   * The 68 landmarks of the face in a CROP_SIZE² crop, as fractions of the crop's width and height. FaceMesh
   * expects the face framed the way faceCropRegion frames it, so the crop is its input, only resized.
   */
  async locate(crop: RgbImage): Promise<Point[]> {
    if (crop.width !== CROP_SIZE || crop.height !== CROP_SIZE) throw new Error(`landmarks need a ${CROP_SIZE}² crop`);
    const outputs = await runFaceModel(this.model, resizeToMeshInput(crop.rgb, CROP_SIZE, MESH_INPUT), MESH_INPUT);
    const xyz = outputs[this.meshOutput].data as Float32Array;
    return MESH_TO_IBUG68.map((v): Point => [xyz[3 * v] / MESH_INPUT, xyz[3 * v + 1] / MESH_INPUT]);
  }
}
