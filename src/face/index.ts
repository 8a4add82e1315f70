/**
 * The face expert of Face-LLaVA (SPEC §2, E_L): images and videos in; for each face its box, a 256×256 RGB crop
 * (what the vision encoder consumes) and its 68 iBUG landmarks normalized to the crop (crop pixels / 256); for a
 * video, 8 frames sampled at linspace(0, n−1, 8), frames without a face dropped, more than 30 % of them an error.
 *
 * Models, all shipped inside npm packages (nothing is downloaded), are TF.js graph models imported by
 * graph/tfjs-import.ts and run on the project's engine (onnxruntime), compiled once per process (engine.ts):
 * - detection: BlazeFace, MediaPipe's full-range detector (256×256 input), from @vladmandic/human, run twice
 *   (plain letterbox, and with a border for faces that fill the frame);
 * - landmarks: MediaPipe FaceMesh (468 points, 192×192 input) from @vladmandic/human, run on the face crop itself
 *   and reduced to the iBUG 68 with human's VTX68 vertex map.
 *
 * Chosen over @vladmandic/face-api's SSD-MobileNet detector and native 68-point network, on measurements
 * (2-vCPU Xeon; TF.js wasm backend, one thread, for all four models, as they were chosen; `npm run bench:face`
 * repeats all but the SSD figures):
 * - detection rate, validation splits: BlazeFace 1.000 on UTKFace, CelebA and realorfake (300, 300, 84 images),
 *   0.963 on FER2013's 48-pixel crops. SSD-MobileNet, in a probe on 80 images per pack, found 0.46 of UTKFace and
 *   0.79 of CelebA (0.73–0.89 and 0.97–0.99 with a 30–50 % border added) and no unbordered FER2013 face: it
 *   misses faces that fill the frame, which is what face datasets are made of.
 * - speed (quiet machine): BlazeFace ≈ 16 ms a pass and FaceMesh ≈ 5 ms a face, against ≈ 200 ms for SSD-MobileNet
 *   and ≈ 7 ms for face-api's 68-point network.
 * - precision: the landmarks of a crop and of its mirror image (mirrored back) differ by 2.3 % of the outer-eye
 *   distance for FaceMesh, 6.3 % for face-api's network: FaceMesh is the steadier of the two.
 * - agreement of the two 68-point sets on the same 384 faces: 7.1 % of the outer-eye distance on average (5.3–5.9 %
 *   on UTKFace, CelebA and realorfake, 11 % on FER2013's tiny faces); by region: jaw contour 10.9 % (FaceMesh's
 *   vertices only approximate iBUG's silhouette points), nose bridge 7.2 %, brows 6.5–7.1 %, lips 5.5–6.0 %,
 *   nostrils 5.1 %, eyes 4.8–5.1 %.
 * One package's models also mean one runtime: both are TF graph models (graph JSON + weights) that the importer
 * converts op by op to the engine (face-api ships weights only; its architecture lives in its JavaScript code).
 * Model execution is confined to FaceDetector.run and LandmarkModel.locate, which feed the tensors human feeds
 * TF.js (NHWC; pixels / 127.5 − 1 and a half-pixel bilinear resize / 255); on 160 pack images the engine's scores,
 * boxes and landmarks match TF.js's to within 1e-6 (of the score, the image side, the crop side). Speed, same
 * machine, engine on its default 2 threads against TF.js wasm's one: BlazeFace ≈ 3.8 ms a pass (16 ms on TF.js;
 * 3.9 ms on one thread), FaceMesh ≈ 2 ms a face (3.7 ms); a whole analyzeImage call 17.6 ms (44 ms with TF.js,
 * same run conditions; `npm run bench:face`, ms_per_image), detection rates unchanged.
 *
 * Limits: faces narrower than about 2 % of the picture's longer side are missed (no tiling of large photos); crops
 * are axis-aligned (no roll correction); the primary face of a video is chosen frame by frame (no tracking).
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
