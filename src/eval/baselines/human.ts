// `npm:human`: @vladmandic/human's (3.x) own face models, as human runs them (its src/gear/emotion.ts,
// src/face/faceres.ts, src/face/facemeshutil.ts), on onnxruntime.
//
// human hands every face model one "face tensor": the detector's box, enlarged 1.4× and squared, cut out with
// `cropAndResize` to FaceMesh's 192×192 input and divided by 255. The face expert's crop is that same framing
// (src/face/crop.ts, CROP_SCALE), or the whole picture for the packs' ready-cut faces, so the face tensor is the
// crop resampled to 192. From there:
//   emotion.json (oarriaga's mini-Xception, FER2013-trained, 64×64 grayscale): resizeBilinear to 64, grayscale
//     with the rgb2gray weights 0.2989/0.5870/0.1140, then (g − 0.5) · 2 into −1..1; softmax over 7 classes in
//     the order angry, disgust, fear, happy, sad, surprise, neutral (human's list for single-channel models).
//     human reports each score truncated to two decimals and sorts them, so a near-tie goes to the earlier class.
//   faceres.json (HSE MobileNet, 224×224 RGB): resizeBilinear to 224, times 255 (0..255); `age_pred` is a
//     softmax over 100 one-year bins, decoded as human decodes it (decodeHumanAge).
import { join } from 'node:path';
import type { Expression } from '../../data/labels/expression.js';
import type { RgbImage } from '../../face/rgb.js';
import { loadTfjsModel } from '../../graph/tfjs-import.js';
import type { BaselinePredictor } from './answers.js';
import { packageRoot } from '../../util/package-root.js';
import { Network, row } from './network.js';
import { cropAndResizeWhole, cropsToFloat, mapValues, resizeBilinear, type FloatImages } from './preprocess.js';

export const HUMAN_PACKAGE = '@vladmandic/human';

/** FaceMesh's input size: the face tensor every other face model is resized from. */
export const HUMAN_FACE_TENSOR_SIZE = 192;

/** human's class order for single-channel emotion models, which our labels name the same way. */
export const HUMAN_EMOTIONS: readonly Expression[] = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

/** human's grayscale weights (its constants.rgb), float32 as it holds them. */
const RGB_TO_GRAY = Float32Array.from([0.2989, 0.587, 0.114]);

const EMOTION_OUTPUT = 'Identity';
const AGE_OUTPUT = 'age_pred/Softmax';

/** human's face tensor: the crop cut to 192×192 with cropAndResize, 0..1. */
export function humanFaceTensor(crops: readonly RgbImage[]): FloatImages {
  return mapValues(cropAndResizeWhole(cropsToFloat(crops), HUMAN_FACE_TENSOR_SIZE), (v) => v / 255);
}

/** emotion.json's input from a face tensor: [n, 64, 64, 1] in −1..1. */
export function humanEmotionInput(face: FloatImages, size = 64): FloatImages {
  const resized = resizeBilinear(face, size, size);
  const gray = new Float32Array(resized.n * size * size);
  for (let i = 0; i < gray.length; i++) {
    // tf.mul stores each product in float32; tf.sum adds them up in double and stores the sum in float32.
    const r = Math.fround(resized.data[3 * i] * RGB_TO_GRAY[0]);
    const g = Math.fround(resized.data[3 * i + 1] * RGB_TO_GRAY[1]);
    const b = Math.fround(resized.data[3 * i + 2] * RGB_TO_GRAY[2]);
    gray[i] = Math.fround(Math.fround(r + g + b) - 0.5) * 2;
  }
  return { n: resized.n, height: size, width: size, channels: 1, data: gray };
}

/** faceres.json's input from a face tensor: [n, 224, 224, 3] in 0..255. */
export function humanFaceresInput(face: FloatImages, size = 224): FloatImages {
  return mapValues(resizeBilinear(face, size, size), (v) => v * 255);
}

/**
 * human's age from faceres's 100 bins (faceres.ts): the arg max bin, moved toward the larger neighbour by ten times
 * that neighbour's probability, in tenths of a year: `round(10·i ± 100·p[i±1]) / 10`. Replayed with its edges: at
 * bin 0 there is no left neighbour (the comparison with undefined is false, so it moves right); at bin 99 the
 * right neighbour is undefined and human's age is NaN.
 */
export function decodeHumanAge(bins: ArrayLike<number>): number {
  let idx = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[idx]) idx = i;
  const left = idx > 0 ? bins[idx - 1] : undefined;
  const right = idx + 1 < bins.length ? bins[idx + 1] : undefined;
  if (left !== undefined && right !== undefined && left > right) return Math.round(10 * idx - 100 * left) / 10;
  if (right === undefined) return NaN;
  return Math.round(10 * idx + 100 * right) / 10;
}

/** A score as human reports it: truncated to two decimals, at most 0.99. */
export function humanScore(p: number): number {
  return Math.min(0.99, Math.trunc(100 * p) / 100);
}

export class HumanBaseline implements BaselinePredictor {
  readonly name = 'npm:human';

  private constructor(
    private readonly emotion: Network,
    private readonly faceres: Network,
  ) {}

  static async load(options: { threads?: number } = {}): Promise<HumanBaseline> {
    const models = join(packageRoot(HUMAN_PACKAGE), 'models');
    const [emotion, faceres] = await Promise.all([
      loadTfjsModel(join(models, 'emotion.json')).then((a) => Network.load('human_emotion', a, [EMOTION_OUTPUT], options.threads)),
      loadTfjsModel(join(models, 'faceres.json')).then((a) => Network.load('human_faceres', a, [AGE_OUTPUT], options.threads)),
    ]);
    return new HumanBaseline(emotion, faceres);
  }

  /** emotion.json's softmax per crop, in HUMAN_EMOTIONS order. */
  async emotionProbabilities(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const out = (await this.emotion.run(humanEmotionInput(humanFaceTensor(crops))))[EMOTION_OUTPUT];
    return crops.map((_, i) => row(out, i).slice());
  }

  /** faceres's 100 age bins per crop. */
  async ageBins(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const out = (await this.faceres.run(humanFaceresInput(humanFaceTensor(crops))))[AGE_OUTPUT];
    return crops.map((_, i) => row(out, i).slice());
  }

  /** The scores human reports (truncated), so that the arg max, ties to the earlier class, is human's top emotion. */
  async expression(crops: readonly RgbImage[]): Promise<{ classes: readonly Expression[]; probabilities: Float32Array[] }> {
    const probabilities = (await this.emotionProbabilities(crops)).map((p) => p.map(humanScore));
    return { classes: HUMAN_EMOTIONS, probabilities };
  }

  async age(crops: readonly RgbImage[]): Promise<number[]> {
    return (await this.ageBins(crops)).map(decodeHumanAge);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.emotion.dispose(), this.faceres.dispose()]);
  }
}
