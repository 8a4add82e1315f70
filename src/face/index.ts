/**
 * The face expert of Face-LLaVA (SPEC §2, E_L): images and videos in; for each face its box, a 256×256 RGB crop
 * (what the vision encoder consumes) and its 68 iBUG landmarks normalized to the crop (crop pixels / 256); for a
 * video, 8 frames sampled at linspace(0, n−1, 8), frames without a face dropped, more than 30 % of them an error.
 *
 * Models (all shipped inside npm packages, nothing downloaded), run on TF.js's WebAssembly backend:
 * - detection: BlazeFace, MediaPipe's full-range detector (256×256), from @vladmandic/human;
 * - landmarks: MediaPipe FaceMesh (468 points, 192×192) from @vladmandic/human, run on the face crop and reduced
 *   to the iBUG 68 with human's VTX68 vertex map.
 *
 * Why these, measured against @vladmandic/face-api's SSD-MobileNet detector and its native 68-point network
 * (`npm run bench:face` prints the figures again; numbers from its first run, 2-core Xeon, wasm, one thread):
 * - detection rate on the validation packs: BlazeFace 1.000 on UTKFace, CelebA and realorfake, where SSD-MobileNet
 *   found 0.46–0.79 of the tightly cropped UTKFace and CelebA faces (0.71–0.99 even with a 30–50 % border added);
 * - speed: BlazeFace ≈ 16 ms and FaceMesh ≈ 5 ms per face, against ≈ 200 ms for SSD-MobileNet and ≈ 6 ms for the
 *   68-point network;
 * - precision: landmarks of a crop and of its mirror image (mirrored back) differ by 1.5–1.9 % of the outer-eye
 *   distance for FaceMesh against 3.2–4.6 % for face-api's network;
 * - agreement of the two 68-point sets on the same faces: 5–6 % of the outer-eye distance on average, most of it on
 *   the jaw contour (8–13 %, where FaceMesh's vertices only approximate iBUG's silhouette points) and the nose
 *   bridge (6–8 %); eyes 3 %, brows and lips 4–5 %.
 * One package's models also means one runtime path: both are TF graph models (graph JSON + weights), which the
 * project's ONNX engine can import by op mapping, where face-api's networks exist only as JavaScript code.
 */
export { CROP_SCALE, CROP_SIZE } from './crop.js';
export type { Box } from './detector.js';
export { FaceExpertError, type FaceErrorCode } from './errors.js';
export {
  createFaceExpert,
  type AnalyzeOptions,
  type Face,
  type FaceExpert,
  type FaceExpertOptions,
  type ImageAnalysis,
  type VideoAnalysis,
  type VideoFrame,
  type VideoOptions,
} from './expert.js';
export { MESH_TO_IBUG68 } from './landmarks.js';
export { DEFAULT_MAX_PIXELS, type ImageFormat, type MediaInput, type VideoContainer } from './media.js';
export { renderOverlay, REGION_COLOURS, type OverlayFace } from './overlay.js';
export { FACE_REGIONS, LANDMARK_COUNT, type FaceRegion, type Point } from './regions.js';
export type { RgbImage } from './rgb.js';
export { sampleFrameIndices } from './video.js';
