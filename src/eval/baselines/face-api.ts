// `npm:face-api`: @vladmandic/face-api's (1.7) own nets, as face-api runs them, on onnxruntime.
//
// face-api hands a net the face's pixels (0..255), padded to a square and stretched to 112×112 with
// `resizeBilinear` (NetInput.toBatchTensor); the nets subtract face-api's mean RGB and divide by 255 themselves —
// that part is in the graphs. Its faces are its detector's boxes; ours are the face expert's crops (the same ones
// every model is evaluated on), square already.
//   face_expression_model (FaceFeatureExtractor + FC, softmax over 7): neutral, happy, sad, angry, fearful,
//     disgusted, surprised (FACE_EXPRESSION_LABELS); top class = arg max.
//   age_gender_model (TinyXception + FC heads): age is a regression, in years, taken as is.
// Both graphs are written out by graph/tfjs-import/faceapi.ts (face-api ships weights only).
import { join } from 'node:path';
import type { Expression } from '../../data/labels/expression.js';
import type { RgbImage } from '../../face/rgb.js';
import { FACEAPI_NETS, readFaceApiModel, type FaceApiNet } from '../../graph/tfjs-import.js';
import type { BaselinePredictor } from './answers.js';
import { packageRoot } from '../../util/package-root.js';
import { Network, row } from './network.js';
import { cropsToFloat, resizeBilinear, type FloatImages } from './preprocess.js';

export const FACEAPI_PACKAGE = '@vladmandic/face-api';

/** face-api's FACE_EXPRESSION_LABELS, in its order, and the project's label for each. */
export const FACEAPI_EXPRESSION_LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'] as const;
export const FACEAPI_EXPRESSIONS: readonly Expression[] = ['neutral', 'happy', 'sad', 'angry', 'fear', 'disgust', 'surprise'];

const EXPRESSION_INPUT_SIZE = FACEAPI_NETS.face_expression.inputSize;
const AGE_INPUT_SIZE = FACEAPI_NETS.age_gender.inputSize;

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
    private readonly ageOutput: string,
  ) {}

  static async load(options: { threads?: number } = {}): Promise<FaceApiBaseline> {
    const dir = join(packageRoot(FACEAPI_PACKAGE), 'model');
    /** One of the net's named nodes (FaceApiModel.nodes) as the only output. */
    const load = async (name: string, net: FaceApiNet, output: string) => {
      const m = await readFaceApiModel(dir, net);
      return { output: m.nodes[output], net: await Network.load(name, m.artifacts, [m.nodes[output]], options.threads) };
    };
    const [expression, age] = await Promise.all([
      load('faceapi_expression', 'face_expression', 'probabilities'),
      load('faceapi_age_gender', 'age_gender', 'age'),
    ]);
    return new FaceApiBaseline(expression.net, expression.output, age.net, age.output);
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
    const out = (await this.ageNet.run(faceApiInput(crops, AGE_INPUT_SIZE)))[this.ageOutput];
    return crops.map((_, i) => row(out, i)[0]);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.expressionNet.dispose(), this.ageNet.dispose()]);
  }
}
