// `npm:face-api`: @vladmandic/face-api's (1.7) own nets, as face-api runs them, on onnxruntime.
//
// face-api hands a net the face's pixels (0..255), padded to a square and stretched to 112×112 with
// `resizeBilinear` (NetInput.toBatchTensor); the nets subtract face-api's mean RGB and divide by 255 themselves —
// that part is in the graphs. Its faces are its detector's boxes; ours are the face expert's crops (the same ones
// every model is evaluated on), square already.
//   face_expression_model (FaceFeatureExtractor + FC, softmax over 7): neutral, happy, sad, angry, fearful,
//     disgusted, surprised (FACE_EXPRESSION_LABELS); top class = arg max.
//   age_gender_model (TinyXception + FC heads, ./faceapi-age-graph.ts): age is a regression, in years, taken as is.
import { join } from 'node:path';
import type { Expression } from '../../data/labels/expression.js';
import type { RgbImage } from '../../face/rgb.js';
import { readFaceApiModel } from '../../graph/tfjs-import.js';
import type { BaselinePredictor } from './answers.js';
import { FACEAPI_AGE_INPUT_SIZE, FACEAPI_AGE_OUTPUTS, readFaceApiAgeModel } from './faceapi-age-graph.js';
import { Network, packageRoot, row } from './network.js';
import { cropsToFloat, resizeBilinear, type FloatImages } from './preprocess.js';

export const FACEAPI_PACKAGE = '@vladmandic/face-api';

/** face-api's FACE_EXPRESSION_LABELS, in its order, and the project's label for each. */
export const FACEAPI_EXPRESSION_LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'] as const;
export const FACEAPI_EXPRESSIONS: readonly Expression[] = ['neutral', 'happy', 'sad', 'angry', 'fear', 'disgust', 'surprise'];

const EXPRESSION_INPUT_SIZE = 112;

/** What a face-api net is fed: the crops as [n, size, size, 3] in 0..255 (square crops need no padding). */
export function faceApiInput(crops: readonly RgbImage[], size: number): FloatImages {
  const x = cropsToFloat(crops);
  if (x.height !== x.width) throw new Error(`face-api baseline: crops must be square, got ${x.width}×${x.height}`);
  // toBatchTensor resizes only when the size differs; resizing to the same size would be the identity anyway.
  return x.height === size ? x : resizeBilinear(x, size, size);
}

export class FaceApiBaseline implements BaselinePredictor {
  readonly name = 'npm:face-api';

  private constructor(
    private readonly expressionNet: Network,
    private readonly expressionOutput: string,
    private readonly ageNet: Network,
  ) {}

  static async load(options: { threads?: number } = {}): Promise<FaceApiBaseline> {
    const dir = join(packageRoot(FACEAPI_PACKAGE), 'model');
    const [expression, age] = await Promise.all([
      readFaceApiModel(dir, 'face_expression').then(async (m) => ({
        output: m.nodes.probabilities,
        net: await Network.load('faceapi_expression', m.artifacts, [m.nodes.probabilities], options.threads),
      })),
      readFaceApiAgeModel(dir).then((a) => Network.load('faceapi_age_gender', a, [FACEAPI_AGE_OUTPUTS.age], options.threads)),
    ]);
    return new FaceApiBaseline(expression.net, expression.output, age);
  }

  /** The expression net's softmax per crop, in FACEAPI_EXPRESSION_LABELS order. */
  async expressionProbabilities(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const out = (await this.expressionNet.run(faceApiInput(crops, EXPRESSION_INPUT_SIZE)))[this.expressionOutput];
    return crops.map((_, i) => row(out, i).slice());
  }

  async expression(crops: readonly RgbImage[]): Promise<{ classes: readonly Expression[]; probabilities: Float32Array[] }> {
    return { classes: FACEAPI_EXPRESSIONS, probabilities: await this.expressionProbabilities(crops) };
  }

  async age(crops: readonly RgbImage[]): Promise<number[]> {
    const out = (await this.ageNet.run(faceApiInput(crops, FACEAPI_AGE_INPUT_SIZE)))[FACEAPI_AGE_OUTPUTS.age];
    return crops.map((_, i) => row(out, i)[0]);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.expressionNet.dispose(), this.ageNet.dispose()]);
  }
}
