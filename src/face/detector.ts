// Face detection with BlazeFace (MediaPipe's full-range "back camera" model, 256×256 input, as shipped in
// @vladmandic/human's models/blazeface.json): boxes and scores in source-image pixels.
import { faceModel, runFaceModel, type FaceModel } from './engine.js';
import { sharpFromRgb, rgbFromSharp, type RgbImage } from './rgb.js';

/** An axis-aligned box in pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Detection {
  /** The face (roughly brows to chin, cheek to cheek) in source-image pixels. */
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
}

const INPUT = 256;
const IOU_THRESHOLD = 0.2;
const CONTAINED = 0.4;
/**
 * The detector runs twice, on the image letterboxed with these margins (a fraction of its longer side on every
 * edge), and the two passes' faces are merged. BlazeFace's anchors stop short of faces that fill the whole
 * frame (tight crops such as UTKFace or FER2013): the bordered pass finds those, with better boxes, while the
 * plain pass keeps the resolution small faces in large photos need.
 */
const MARGINS = [0, 0.3];

// The SSD anchors of BlazeFace at 256×256: a 16×16 grid (stride 16) with 2 anchors per cell, then an 8×8 grid
// (stride 32) with 6, in the order of the model's outputs. Box centres are offsets from anchor centres in pixels.
const ANCHORS: Float32Array = (() => {
  const out: number[] = [];
  for (const [stride, perCell] of [
    [16, 2],
    [32, 6],
  ]) {
    const cells = INPUT / stride;
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) for (let k = 0; k < perCell; k++) out.push(stride * (x + 0.5), stride * (y + 0.5));
    }
  }
  return Float32Array.from(out);
})();
const ANCHOR_COUNT = ANCHORS.length / 2; // 896

/**
 * Whether two boxes show the same face: they overlap by IoU ≥ 0.2, or 40 % of the smaller one lies inside the
 * other. The second test catches a part of a large face (eyes and nose, say) detected again at a finer scale,
 * which plain IoU lets through because the areas differ so much. (Measured on 300 validation images each of
 * UTKFace, CelebA and FER2013: extra detections on these one-face pictures fell from 32 to 15, none lost.)
 */
function sameFace(a: Box, b: Box): boolean {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return false;
  const inter = w * h;
  const areaA = a.width * a.height;
  const areaB = b.width * b.height;
  return inter / (areaA + areaB - inter) >= IOU_THRESHOLD || inter / Math.min(areaA, areaB) >= CONTAINED;
}

/** Greedy non-maximum suppression; returns the kept detections by descending score. */
function nonMaxSuppression(candidates: Detection[]): Detection[] {
  const kept: Detection[] = [];
  for (const c of [...candidates].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => sameFace(k.box, c.box))) kept.push(c);
  }
  return kept;
}

export class FaceDetector {
  private constructor(private readonly model: FaceModel) {}

  static async load(): Promise<FaceDetector> {
    return new FaceDetector(await faceModel('blazeface.json', INPUT));
  }

  /** All faces scoring at least `minScore`, by descending score. */
  async detect(image: RgbImage, minScore: number): Promise<Detection[]> {
    const all: Detection[] = [];
    for (const margin of MARGINS) all.push(...(await this.detectLetterboxed(image, margin, minScore)));
    return nonMaxSuppression(all);
  }

  /**
   * Runs the model on the image scaled into a square of INPUT pixels (aspect kept, black bars, plus `margin`
   * of border) and maps the boxes back to the image.
   */
  private async detectLetterboxed(image: RgbImage, margin: number, minScore: number): Promise<Detection[]> {
    const side = Math.max(image.width, image.height) * (1 + 2 * margin);
    const scale = INPUT / side;
    const width = Math.max(1, Math.round(image.width * scale));
    const height = Math.max(1, Math.round(image.height * scale));
    const left = Math.floor((INPUT - width) / 2);
    const top = Math.floor((INPUT - height) / 2);
    const input = await rgbFromSharp(
      sharpFromRgb(image)
        .resize(width, height, { fit: 'fill' })
        .extend({ left, top, right: INPUT - width - left, bottom: INPUT - height - top, background: '#000000' }),
    );
    const raw = await this.run(input);
    // Undo the letterbox per axis: the rounding of the resized size makes the two scales differ slightly.
    const sx = image.width / width;
    const sy = image.height / height;
    const candidates: Detection[] = [];
    for (let i = 0; i < ANCHOR_COUNT; i++) {
      const o = i * 17;
      const score = 1 / (1 + Math.exp(-raw[o]));
      if (score < minScore) continue;
      const cx = raw[o + 1] + ANCHORS[2 * i];
      const cy = raw[o + 2] + ANCHORS[2 * i + 1];
      const w = raw[o + 3];
      const h = raw[o + 4];
      const box = { x: (cx - w / 2 - left) * sx, y: (cy - h / 2 - top) * sy, width: w * sx, height: h * sy };
      candidates.push({ box, score });
    }
    return nonMaxSuppression(candidates);
  }

  /**
   * The raw model output, 896 anchors × 17 values: score logit, box centre offset (x, y), box size (w, h), then
   * six keypoints (unused here). The model returns four tensors (scores and regressors of each grid); they are
   * put back into anchor order the way @vladmandic/human's blazeface.ts does: ordered by size, the 512-anchor grid
   * first. The input is the pixels scaled to [−1, 1] in float32, as human feeds them (x / 127.5 − 1).
   */
  private async run(input: RgbImage): Promise<Float32Array> {
    const pixels = new Float32Array(input.rgb.length);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.fround(input.rgb[i] / 127.5) - 1;
    const outputs = await runFaceModel(this.model, pixels, INPUT);
    const [scores384, scores512, boxes384, boxes512] = this.model.outputs
      .map((o) => outputs[o.name].data as Float32Array)
      .sort((a, b) => a.length - b.length);
    const raw = new Float32Array(ANCHOR_COUNT * 17);
    let anchor = 0;
    for (const [scores, boxes] of [
      [scores512, boxes512],
      [scores384, boxes384],
    ]) {
      for (let i = 0; i < scores.length; i++, anchor++) {
        raw[anchor * 17] = scores[i];
        raw.set(boxes.subarray(i * 16, i * 16 + 16), anchor * 17 + 1);
      }
    }
    return raw;
  }
}
