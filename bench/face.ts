// Face expert bench: detection rate on the validation split of each face pack, warm speed, and how the chosen
// landmarks (FaceMesh → iBUG 68) compare with @vladmandic/face-api's native 68-point network on the same faces.
// Prints key=value lines. Usage: tsx bench/face.ts [--sample N] (validation images per pack, default 300).
// ms_per_image is a whole analyzeImage call (decode, two detector passes, crop, landmarks), warm, median.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createFaceExpert, FaceExpertError, FACE_REGIONS, type Face, type Point } from '../src/face/index.js';
import { LandmarkModel } from '../src/face/landmarks.js';
import { IBUG68_MIRROR } from '../src/face/regions.js';
import type { RgbImage } from '../src/face/rgb.js';
import { packAvailable, samplePack } from '../test/helpers/face-packs.js';

const PACKS = ['utkface', 'celeba', 'realorfake', 'fer2013'] as const;
const WARMUP = 5;
/** Faces per pack compared between the two landmark models. */
const AGREEMENT_FACES = 100;

const sampleArg = process.argv.indexOf('--sample');
const sample = sampleArg > 0 ? Number(process.argv[sampleArg + 1]) : 300;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number, digits = 4): string => x.toFixed(digits);

/** Mean point distance per landmark, as a fraction of `ref`'s outer-eye-corner distance (points 36 and 45). */
function pointErrors(ref: readonly Point[], other: readonly Point[]): number[] {
  const iod = Math.hypot(ref[36][0] - ref[45][0], ref[36][1] - ref[45][1]);
  return ref.map((p, i) => Math.hypot(p[0] - other[i][0], p[1] - other[i][1]) / iod);
}

const mirrorImage = (image: RgbImage): RgbImage => {
  const rgb = new Uint8Array(image.rgb.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const from = 3 * (y * image.width + x);
      const to = 3 * (y * image.width + (image.width - 1 - x));
      rgb.set(image.rgb.subarray(from, from + 3), to);
    }
  }
  return { ...image, rgb };
};
const unmirror = (points: readonly Point[]): Point[] => IBUG68_MIRROR.map((j): Point => [1 - points[j][0], points[j][1]]);

/**
 * face-api's 68-point network on a crop: it expects the face box its own detector gives (about the landmarks'
 * extent), so it is run on the square around FaceMesh's 68 points, enlarged by 10 %, and mapped back.
 */
async function faceApi68(crop: RgbImage, frame: readonly Point[]): Promise<Point[]> {
  const xs = frame.map((p) => p[0]);
  const ys = frame.map((p) => p[1]);
  const side = 1.1 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const x0 = (Math.max(...xs) + Math.min(...xs)) / 2 - side / 2;
  const y0 = (Math.max(...ys) + Math.min(...ys)) / 2 - side / 2;
  const input = tf.tidy(() => {
    const image = tf.tensor4d(Float32Array.from(crop.rgb), [1, crop.height, crop.width, 3]);
    return tf.image.cropAndResize(image, [[y0, x0, y0 + side, x0 + side]], [0], [112, 112]).squeeze([0]) as tf.Tensor3D;
  });
  const result = (await faceapi.nets.faceLandmark68Net.detectLandmarks(input)) as faceapi.FaceLandmarks68;
  input.dispose();
  return result.relativePositions.map((p): Point => [x0 + p.x * side, y0 + p.y * side]);
}

async function main(): Promise<void> {
  const expert = await createFaceExpert();
  const mesh = await LandmarkModel.load();
  const require = createRequire(import.meta.url);
  // face-api's 68-point network runs on TF.js's wasm backend (the face expert itself no longer uses TF.js).
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
  tf.enableProdMode();
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend failed to initialise');
  await faceapi.nets.faceLandmark68Net.loadFromDisk(path.dirname(require.resolve('@vladmandic/face-api/model/face_landmark_68_model.bin')));
  console.log(`sample_per_pack=${sample}`);

  const times: number[] = [];
  // CPU time as well as wall time: on a shared machine the wall clock counts other processes' turns too.
  const cpuTimes: number[] = [];
  let analysed = 0;
  const agreement: number[][] = []; // per face, per landmark
  const flipMesh: number[] = [];
  const flipFaceApi: number[] = [];
  const msMesh: number[] = [];
  const msFaceApi: number[] = [];
  for (const pack of PACKS) {
    if (!packAvailable(pack)) {
      console.log(`detect_rate_${pack}=unavailable`);
      continue;
    }
    const images = await samplePack(pack, 'val', sample);
    let found = 0;
    let multiple = 0;
    const faces: Face[] = [];
    for (const bytes of images.values()) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      try {
        const result = await expert.analyzeImage(bytes, { faces: 'all' });
        found++;
        if (result.faces.length > 1) multiple++;
        if (faces.length < AGREEMENT_FACES) faces.push(result.faces[0]);
      } catch (err) {
        if (!(err instanceof FaceExpertError && err.code === 'NO_FACE')) throw err;
      }
      if (++analysed > WARMUP) {
        times.push(performance.now() - start);
        const cpu = process.cpuUsage(cpuStart);
        cpuTimes.push((cpu.user + cpu.system) / 1000);
      }
    }
    console.log(`detect_rate_${pack}=${fmt(found / images.size)} n_${pack}=${images.size}`);
    // Every pack image shows one face: more is a false detection.
    console.log(`multi_face_rate_${pack}=${fmt(multiple / images.size)}`);

    const packAgreement: number[] = [];
    for (const face of faces) {
      let t = performance.now();
      const ours = await mesh.locate(face.crop);
      msMesh.push(performance.now() - t);
      t = performance.now();
      const theirs = await faceApi68(face.crop, ours);
      msFaceApi.push(performance.now() - t);
      const errors = pointErrors(ours, theirs);
      agreement.push(errors);
      packAgreement.push(mean(errors));
      const mirrored = mirrorImage(face.crop);
      flipMesh.push(mean(pointErrors(ours, unmirror(await mesh.locate(mirrored)))));
      flipFaceApi.push(mean(pointErrors(theirs, unmirror(await faceApi68(mirrored, unmirror(ours))))));
    }
    if (packAgreement.length) console.log(`landmark_agreement_nme_${pack}=${fmt(mean(packAgreement))}`);
  }
  console.log(`ms_per_image=${fmt(median(times), 1)}`);
  console.log(`cpu_ms_per_image=${fmt(median(cpuTimes), 1)}`);
  console.log(`landmark_agreement_nme=${fmt(mean(agreement.map(mean)))} faces=${agreement.length}`);
  for (const region of FACE_REGIONS) {
    const perFace = agreement.map((e) => mean(e.slice(region.start, region.end)));
    console.log(`landmark_agreement_nme_${region.name}=${fmt(mean(perFace))}`);
  }
  console.log(`flip_nme_facemesh=${fmt(mean(flipMesh))}`);
  console.log(`flip_nme_faceapi68=${fmt(mean(flipFaceApi))}`);
  console.log(`ms_landmarks_facemesh=${fmt(median(msMesh), 2)}`);
  console.log(`ms_landmarks_faceapi68=${fmt(median(msFaceApi), 2)}`);
  expert.dispose();
}

await main();
